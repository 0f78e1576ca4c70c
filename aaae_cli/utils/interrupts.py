"""SIGTERM like Ctrl-C, and temporaries that say which process made them, so leftovers can be cleaned.

``timeout``, ``docker stop`` and CI cancels send SIGTERM. Python's default for it ends the process on the spot,
so ``sample --separate`` left its hidden folder of thousands of PNGs behind, while Ctrl-C (KeyboardInterrupt)
ran every ``except``/``finally`` that removes them. :func:`treat_sigterm_like_ctrl_c` makes the two the same
(``aaae train`` installs its own handlers, which save a checkpoint first).

Temporary folders are named ``.<target>.aaae-<pid>-<random><suffix>``: one whose process no longer exists is
a leftover of a ``kill -9`` or a power cut, and :func:`remove_stale` deletes it the next time aaae writes the
same target. A folder of a process that is still running is never touched.

A signal that arrives while onnxruntime runs a graph (in a worker thread, see :func:`aaae_cli.runtime.run_session`)
asks it to stop at its next operator; one operator of a hostile graph can take much longer. A Python daemon
thread still inside C++ code when the interpreter shuts down aborts the process ("terminate called without an
active exception"), so :func:`exit_now` ends the process directly while such a call is still in flight
(:func:`native_call` counts them).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

_OWNER = {"pid": -1}
_IN_FLIGHT = {"calls": 0}
_IN_FLIGHT_LOCK = threading.Lock()


@contextlib.contextmanager
def native_call() -> Iterator[None]:
    """Count a call into native code (onnxruntime's ``run``) made by a worker thread while it lasts."""
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT["calls"] += 1
    try:
        yield
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT["calls"] -= 1


def exit_now(code: int) -> NoReturn:
    """``sys.exit(code)``, or, while a worker thread is still in native code, end the process at once (its
    output flushed): shutting the interpreter down around that thread would abort the process."""
    if _IN_FLIGHT["calls"]:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def _interrupt(signum: int, frame: Any) -> None:
    if os.getpid() != _OWNER["pid"]:  # a forked worker (a decoding pool): end as SIGTERM always did, quietly
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt


def treat_sigterm_like_ctrl_c() -> None:
    """Make SIGTERM (and SIGHUP, a closed terminal) raise KeyboardInterrupt, as Ctrl-C does, in this process
    only: worker processes forked from it keep the default, so a pool can still terminate them."""
    _OWNER["pid"] = os.getpid()
    installed = []
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None and signal.getsignal(number) in (signal.SIG_DFL, None):
            signal.signal(number, _interrupt)
            installed.append(number)
    if installed and hasattr(os, "register_at_fork") and not _OWNER.get("at_fork"):
        _OWNER["at_fork"] = 1
        # A forked pool worker must die on SIGTERM at once, as by default: with a Python handler, a SIGTERM that
        # lands just before the worker blocks on its queue's lock is only handled after the lock is taken, which
        # never happens, and Pool.terminate() waited for it forever (measured: 3 hangs in 30 runs).
        os.register_at_fork(after_in_child=lambda: [signal.signal(n, signal.SIG_DFL) for n in installed])


def make_temp_dir(parent: Path, target: str, suffix: str = ".tmp") -> Path:
    """A new private folder in ``parent`` for building ``target``, named with this process's id."""
    return Path(tempfile.mkdtemp(prefix=f".{target}.aaae-{os.getpid()}-", suffix=suffix, dir=parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or no way to tell: assume it is alive
        return True
    return True


def remove_stale(parent: Path, target: str) -> list[Path]:
    """Delete the temporaries for ``target`` in ``parent`` left by processes that no longer exist."""
    pattern = re.compile(rf"^\.{re.escape(target)}\.aaae-(\d+)-[^/]*\.(tmp|old)$")
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = pattern.match(entry.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
