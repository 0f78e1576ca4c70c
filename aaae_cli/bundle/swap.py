"""Replace a bundle folder safely: only ever a bundle, and never without the new one in place first.

``aaae export RUN OUT --force`` once deleted whatever ``OUT`` was (``.`` with the user's files in it, the
training run itself) before it knew the new bundle could be moved in. Two rules now:

* :func:`check_replaceable` -- a folder may be replaced only if it *is* a bundle (a ``config.json`` of
  format ``aaae-bundle`` and nothing but bundle files) and is not the root, the home folder, the current
  folder or one holding it, or a folder holding a path the command reads (the run, its checkpoint, data);
* :func:`swap_in` -- the new bundle, complete in a temporary folder beside the old one, takes its place by
  renames: the old folder is moved aside, the new one renamed in, and only then is the old one deleted.
  A crash at any moment leaves the old bundle or the new one under ``OUT`` (or, between the two renames,
  the old one beside it as ``.OUT.aaae-PID-*.old``, which the next write of ``OUT`` removes once its process
  is gone), never neither.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from aaae_cli.bundle.config import FORMAT
from aaae_cli.bundle.folder import BUNDLE_PATTERNS, CONFIG
from aaae_cli.errors import UserError
from aaae_cli.utils.interrupts import make_temp_dir, remove_stale


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def check_replaceable(out: Path, protected: Iterable[Path] = (), option: str = "--force") -> None:
    """Refuse to replace ``out`` unless it is an existing bundle folder that holds nothing else of value."""
    if out.is_symlink():
        raise UserError(f"{out}: is a symbolic link; {option} replaces only a bundle folder itself")
    target = out.resolve()
    home = Path.home().resolve()
    cwd = Path.cwd().resolve()
    if target == Path(target.anchor) or target == home:
        raise UserError(f"{out}: refusing to replace {'the home folder' if target == home else 'the root folder'}")
    if _is_within(cwd, target):
        raise UserError(f"{out}: is the current folder or holds it; {option} will not replace it")
    for path in protected:
        if _is_within(Path(path).expanduser().resolve(), target):
            raise UserError(f"{out}: holds {path}, which this command reads; choose another folder")
    names = sorted(os.listdir(target))
    try:
        config = json.loads((target / CONFIG).read_text(encoding="utf-8")) if CONFIG in names else None
    except (OSError, ValueError):
        config = None
    if not (isinstance(config, dict) and config.get("format") == FORMAT):
        raise UserError(f"{out}: is not an aaae bundle; {option} only replaces a bundle (choose an empty folder)")
    for name in names:
        entry = target / name
        plain = entry.is_file() and not entry.is_symlink()
        if not plain or not any(fnmatch.fnmatch(name, pattern) for pattern in BUNDLE_PATTERNS):
            raise UserError(f"{out}: holds {name!r}, which is not part of a bundle; move it or choose another folder")


def make_beside(out: Path) -> Path:
    """A new private temporary folder next to ``out`` (same file system, so it can be renamed into place)."""
    remove_stale(out.parent, out.name)  # left by a killed aaae earlier
    try:
        return make_temp_dir(out.parent, out.name)
    except OSError as exc:
        raise UserError(f"{out.parent}: cannot create a folder there ({exc.strerror or exc})") from None


def swap_in(new: Path, out: Path) -> None:
    """Put the complete folder ``new`` at ``out``; an existing ``out`` is moved aside first, deleted last."""
    old: Path | None = None
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            old = make_temp_dir(out.parent, out.name, ".old")
            os.replace(out, old / out.name)
    try:
        os.replace(new, out)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                os.replace(old / out.name, out)
        raise
    _fsync(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _fsync(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
