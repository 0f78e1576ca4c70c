"""Writing command results safely: folders of single images that appear all at once.

A failed or interrupted command leaves no partial output: grids and GIFs are written atomically (see
:mod:`aaae_cli.utils.atomic`), and :class:`ImageFolderWriter` writes into a hidden temporary folder that is moved
into place only when every image was written.
"""

from __future__ import annotations

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
    """Write many PNGs into ``folder``; they appear there only if the ``with`` block succeeds."""

    def __init__(self, folder: Path) -> None:
        self.folder = check_output_folder(folder)
        self.names: set[str] = set()

    def __enter__(self) -> ImageFolderWriter:
        base = self.folder.parent
        remove_stale(base, self.folder.name)  # left by a killed aaae earlier (issue #13)
        try:
            self.tmp = make_temp_dir(base, self.folder.name)
        except OSError as exc:
            raise UserError(f"{self.folder}: cannot write there ({exc.strerror or exc})") from None
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
            to_pil(image).save(self.tmp / candidate, format="PNG", pnginfo=framed_pnginfo())
        except OSError as exc:
            raise UserError(f"{self.folder}: cannot write {candidate} ({exc.strerror or exc})") from None

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            default_permissions(self.tmp)
            if not self.folder.exists():
                self.tmp.rename(self.folder)
                return
            for name in sorted(self.names):
                os.replace(self.tmp / name, self.folder / name)
            self.tmp.rmdir()
        except OSError as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise UserError(f"{self.folder}: cannot move the images there ({exc.strerror or exc})") from None
