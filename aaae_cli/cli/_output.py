"""Writing command results safely: folders of files that appear all at once, and the bounds of grids and GIFs.

A failed or interrupted command leaves no partial output: grids and GIFs are written atomically (see
:mod:`aaae_cli.utils.atomic`), and :class:`StagedFolder` (images by :class:`ImageFolderWriter`, edited photos by
``aaae edit photos/ -o out/``) writes into a hidden temporary folder that is moved into place only when every
file was written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from types import TracebackType

import numpy as np

from aaae_cli.errors import UserError
from aaae_cli.images import framed_pnginfo, to_pil
from aaae_cli.utils.atomic import default_permissions
from aaae_cli.utils.interrupts import make_temp_dir, remove_stale

# The most pixels one grid image may hold (about 8k x 8k); more images need --separate.
MAX_GRID_PIXELS = 1 << 26


def check_grid_size(count: int, resolution: int, what: str = "images") -> None:
    if count * resolution * resolution > MAX_GRID_PIXELS:
        limit = MAX_GRID_PIXELS // (resolution * resolution)
        raise UserError(
            f"{count} {what} are too many for one grid image (at most {limit} at {resolution}x{resolution}); "
            "write them as single files with --separate DIR"
        )


def check_gif_size(count: int, resolution: int) -> None:
    """Refuse an animation of more pixels than one grid may hold (:data:`MAX_GRID_PIXELS`, summed over its
    frames): ``interpolate --steps 256 --zoom 16 -o x.gif`` took 3.76 GB for a 66 MB GIF (issue 23)."""
    if count * resolution * resolution > MAX_GRID_PIXELS:
        limit = MAX_GRID_PIXELS // (resolution * resolution)
        raise UserError(
            f"{count} frames are too many for one GIF at {resolution}x{resolution} (at most {limit}); "
            "use fewer --steps or a smaller --zoom, or write a .png row"
        )


def check_output_folder(folder: Path) -> Path:
    """A folder we may create files in (it may not exist yet, but its parent must)."""
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder}: exists and is not a folder")
    parent = folder if folder.is_dir() else folder.parent
    if not parent.is_dir():
        raise UserError(f"{folder}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: cannot write in {parent} (permission denied)")
    return folder


class ImageFolderWriter:
    """Write many PNGs into ``folder``; they appear there only if the ``with`` block succeeds (a
    :class:`StagedFolder` of images)."""

    def __init__(self, folder: Path) -> None:
        self.folder = check_output_folder(folder)
        self.names: set[str] = set()
        self._staged = StagedFolder(self.folder, what="images")

    def __enter__(self) -> ImageFolderWriter:
        self._staged.__enter__()
        return self

    def add(self, image: np.ndarray, name: str) -> None:
        """Add one HWC uint8 image as ``name`` (a plain file name ending in .png); clashes get a suffix."""
        stem, suffix = os.path.splitext(name)
        candidate, number = name, 1
        while candidate in self.names:
            candidate = f"{stem}-{number}{suffix}"
            number += 1
        self.names.add(candidate)
        try:
            to_pil(image).save(self._staged.path(Path(candidate)), format="PNG", pnginfo=framed_pnginfo())
        except OSError as exc:
            raise UserError(f"{self.folder}: cannot write {candidate} ({exc.strerror or exc})") from None

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._staged.__exit__(kind, value, traceback)


class StagedFolder:
    """Files written under a hidden folder, moved into ``target`` only if the ``with`` block succeeds.

    A new ``target`` is the hidden folder renamed (all at once); into an existing one, the photos are moved one
    by one after every sub-folder they need was made (only a disk failing between two renames can then leave
    some of them moved, and the error says how many)."""

    def __init__(self, target: Path, what: str = "edited photos") -> None:
        self.target = target
        self.what = what  # named in the error when they cannot be moved into place
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
        """Where to write the file meant for ``target / relative`` (its staged sub-folder made)."""
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
                raise UserError(f"{self.target}: cannot move the {self.what} there ({exc.strerror or exc})") from None
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
                f"{self.target}: cannot move the {self.what} there ({exc.strerror or exc}); "
                f"{moved} of {len(self.written)} were moved"
            ) from None
