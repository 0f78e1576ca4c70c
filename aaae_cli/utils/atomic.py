"""Atomic file writes: write a temporary file beside the target, fsync it, then rename over it.

A crash or ``kill -9`` at any moment leaves either the old file or the new one, never half of one,
and a failed write leaves no partial output behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from aaae_cli.utils.interrupts import remove_stale


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    The temporary is named with this process's id; those a killed process (``kill -9``, a power cut) left for the
    same target are removed first (:func:`aaae_cli.utils.interrupts.remove_stale`)."""
    target = Path(path)
    remove_stale(target.parent, target.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.aaae-{os.getpid()}-", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes the file private (0600); give it what open() would
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_permissions(path: Path) -> None:
    """Give a file (or a folder and everything in it) the permissions a plain ``open()`` would have given:
    temporary files are created private (0600/0700), which is wrong for outputs meant to be shared."""
    mask = os.umask(0)
    os.umask(mask)
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in paths:
        with contextlib.suppress(OSError):
            os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~mask)
