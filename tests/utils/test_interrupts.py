"""SIGTERM like Ctrl-C, and leftovers of killed runs cleaned (issue #13 item 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_cli


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1


def test_sigterm_during_sample_separate_leaves_no_hidden_folder(tmp_path: Path) -> None:
    """``timeout``/``docker stop`` during ``sample --separate`` left a hidden folder of PNGs (Ctrl-C did not)."""
    out = tmp_path / "samples"
    process = subprocess.Popen(
        [sys.executable, "-m", "aaae_cli", "sample", "-n", "200000", "--separate", str(out), "--model", "digits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    hidden: list[Path] = []
    while time.time() < deadline and not any(any(h.iterdir()) for h in hidden):
        hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".samples.")]
        time.sleep(0.05)
    assert hidden, "the command never started writing"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == [], "a temporary folder was left behind"


def test_leftovers_of_a_killed_aaae_are_removed_on_the_next_write(tmp_path: Path) -> None:
    out = tmp_path / "samples"
    stale = tmp_path / f".samples.aaae-{_dead_pid()}-x1y2.tmp"
    stale.mkdir()
    (stale / "00001.png").write_bytes(b"half")
    alive = tmp_path / f".samples.aaae-{os.getpid()}-z9.tmp"  # a running process's: never touched
    alive.mkdir()
    result = run_cli("sample", "-n", "2", "--separate", str(out), "--model", "digits", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and alive.exists()
    assert len(list(out.iterdir())) == 2


def test_a_killed_atomic_writes_temporary_file_is_removed_on_the_next_write(tmp_path: Path) -> None:
    """``kill -9`` during a grid's atomic write leaves ``.out.png.aaae-PID-....tmp``; the next write removes it."""
    stale = tmp_path / f".grid.png.aaae-{_dead_pid()}-ab12.tmp"
    stale.write_bytes(b"half a png")
    alive = tmp_path / f".grid.png.aaae-{os.getpid()}-cd34.tmp"  # a running process's: never touched
    alive.write_bytes(b"in progress")
    result = run_cli("sample", "-n", "4", str(tmp_path / "grid.png"), "--model", "digits", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and alive.exists() and (tmp_path / "grid.png").is_file()


_FORKED = """
import os, signal
from aaae_cli.utils.interrupts import treat_sigterm_like_ctrl_c
treat_sigterm_like_ctrl_c()
assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, b"default" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else b"handler")
    os._exit(0)
os.wait()
print(os.read(read, 16).decode())
"""


def test_forked_workers_keep_the_default_sigterm() -> None:
    """With aaae's SIGTERM handler inherited, a pool worker that got SIGTERM just before blocking on its queue
    never died, and Pool.terminate() waited forever (3 hangs in 30 runs of attributes compute)."""
    result = subprocess.run([sys.executable, "-c", _FORKED], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "default", result.stderr
