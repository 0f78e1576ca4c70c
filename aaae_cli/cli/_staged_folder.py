"""A folder of edited photos (``aaae edit photos/ -o out/``) with nothing lost and nothing half done (issue 23).

Three steps, each before the next:

1. :func:`plan_names`: every input gets its own output name. A format aaae does not write (``a.bmp``) becomes a
   PNG; when that name is taken (``a.png`` beside ``a.bmp``: "wrote 2", one lost) it becomes ``a-bmp.png``.
   Names are compared ignoring case, so that they stay distinct on the case-insensitive disks of macOS and
   Windows too.
2. :func:`check_targets`, before any photo is edited: a file where an output sub-folder must go, a sub-folder
   that cannot be written, a folder where a photo must go, and files that would be replaced (unless
   ``--overwrite``) are each one error line. Tracebacks and half-written output folders came of these.
3. :class:`StagedFolder`: the photos are written into a hidden folder and moved into place only when all of them
   were written, so a full disk, an error or Ctrl-C leaves the output folder as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import default_permissions
from aaae_cli.utils.interrupts import make_temp_dir, remove_stale


def _free_name(wanted: Path, source_suffix: str, taken: set[str]) -> Path:
    """``wanted``, or ``STEM-<source suffix>.EXT`` (then ``-2``, ``-3``, ...) when its name is taken."""
    candidates = [wanted]
    stem = f"{wanted.stem}-{source_suffix.lstrip('.').lower() or 'photo'}"
    candidates.append(wanted.with_name(f"{stem}{wanted.suffix}"))
    number = 2
    while True:
        for candidate in candidates:
            if str(candidate).casefold() not in taken:
                taken.add(str(candidate).casefold())
                return candidate
        candidates = [wanted.with_name(f"{stem}-{number}{wanted.suffix}")]
        number += 1


def plan_names(files: Sequence[Path], source: Path, suffixes: Iterable[str]) -> tuple[list[Path], list[int]]:
    """The output path of each of ``files`` (below ``source``), relative to the output folder, and the indices of
    those renamed to avoid a clash. Files that keep their format claim their names first."""
    keep = {suffix.lower() for suffix in suffixes}
    relatives = [path.relative_to(source) for path in files]
    planned: dict[int, Path] = {}
    taken: set[str] = set()
    renamed: list[int] = []
    kept_first = sorted(range(len(files)), key=lambda i: relatives[i].suffix.lower() not in keep)
    for index in kept_first:
        relative = relatives[index]
        wanted = relative if relative.suffix.lower() in keep else relative.with_suffix(".png")
        planned[index] = _free_name(wanted, relative.suffix, taken)
        if planned[index] != wanted:
            renamed.append(index)
    return [planned[index] for index in range(len(files))], sorted(renamed)


def check_targets(target: Path, relatives: Sequence[Path], overwrite: bool) -> None:
    """Refuse, before any work, an output folder that cannot take ``relatives`` (see the module docstring)."""
    if not target.is_dir():
        return  # a new folder: everything in it is created by aaae
    checked: set[Path] = set()
    existing: list[Path] = []
    for relative in relatives:
        folder = target
        for part in relative.parent.parts:
            folder = folder / part
            if folder not in checked:
                checked.add(folder)
                _check_sub_folder(folder)
        path = target / relative
        if path.is_dir():
            raise UserError(f"{path}: is a folder where an edited photo must go; choose another output folder")
        if path.exists() or path.is_symlink():
            existing.append(path)
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UserError(
            f"{existing[0]}{more}: already in the output folder and would be replaced; pass --overwrite to "
            "replace them, or choose another output folder"
        )


def _check_sub_folder(folder: Path) -> None:
    if not (folder.exists() or folder.is_symlink()):
        return
    if not folder.is_dir():
        raise UserError(f"{folder}: is a file where an output sub-folder must go; move it or choose another output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: cannot write in this output sub-folder (permission denied)")


class StagedFolder:
    """Photos written under a hidden folder, moved into ``target`` only if the ``with`` block succeeds.

    A new ``target`` is the hidden folder renamed (all at once); into an existing one, the photos are moved one
    by one after every sub-folder they need was made (only a disk failing between two renames can then leave
    some of them moved, and the error says how many)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.written: list[Path] = []

    def __enter__(self) -> StagedFolder:
        base = self.target if self.target.is_dir() else self.target.parent
        remove_stale(base, self.target.name)  # left by a killed aaae earlier
        try:
            self.tmp = make_temp_dir(base, self.target.name)
        except OSError as exc:
            raise UserError(f"{self.target}: cannot write there ({exc.strerror or exc})") from None
        return self

    def path(self, relative: Path) -> Path:
        """Where to write the photo meant for ``target / relative`` (its staged sub-folder made)."""
        staged = self.tmp / relative
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.target}: cannot write there ({exc.strerror or exc})") from None
        self.written.append(relative)
        return staged

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            self._commit()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _commit(self) -> None:
        if not self.written:  # nothing to show: no empty output folder either
            return
        default_permissions(self.tmp)  # the hidden folder was made private
        if not self.target.exists():
            try:
                self.tmp.rename(self.target)
                return
            except OSError as exc:
                raise UserError(f"{self.target}: cannot move the edited photos there ({exc.strerror or exc})") from None
        made: list[Path] = []
        moved = 0
        try:
            for relative in self.written:
                for folder in reversed((self.target / relative).parents):
                    if self.target in folder.parents and not folder.is_dir():
                        folder.mkdir()
                        made.append(folder)
            for relative in self.written:
                os.replace(self.tmp / relative, self.target / relative)
                moved += 1
        except OSError as exc:
            if not moved:
                for folder in reversed(made):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
            raise UserError(
                f"{self.target}: cannot move the edited photos there ({exc.strerror or exc}); "
                f"{moved} of {len(self.written)} were moved"
            ) from None
