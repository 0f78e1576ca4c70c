"""A folder of edited photos (``aaae edit photos/ -o out/``) with nothing lost and nothing half done (issue 23).

Three steps, each before the next:

1. :func:`plan_names`: every input gets its own output name. A format aaae does not write (``a.bmp``) becomes a
   PNG; when that name is taken (``a.png`` beside ``a.bmp``: "wrote 2", one lost) it becomes ``a-bmp.png``.
   Names are compared ignoring case, so that they stay distinct on the case-insensitive disks of macOS and
   Windows too.
2. :func:`check_targets`, before any photo is edited: a file where an output sub-folder must go, a sub-folder
   that cannot be written, a folder where a photo must go, and files that would be replaced (unless
   ``--overwrite``) are each one error line. Tracebacks and half-written output folders came of these.
3. :class:`aaae_cli.cli._output.StagedFolder`: the photos are written into a hidden folder and moved into place
   only when all of them were written, so a full disk, an error or Ctrl-C leaves the output folder as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from aaae_cli.errors import UserError


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
