"""Reading a user's photo whole (for edits at its own resolution) and writing it back in its own format.

:mod:`aaae_cli.images` prepares images for a model (a small square); an edit instead returns the user's whole
photo, so it must keep what the photo was: its size, its orientation as shown (EXIF rotation applied, the
tag then dropped, so it displays the same), its format, its colour profile, its transparency. Any mode is
read (grayscale, CMYK, palette, 16-bit) and edited as RGB (or grayscale for grayscale models).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from aaae_cli.atomic import atomic_open
from aaae_cli.errors import UserError
from aaae_cli.images import FRAMED_KEY, FRAMED_VALUE, IMAGE_FORMATS, _to_mode, check_image_array, open_image


@dataclass
class Photo:
    """A photo as shown (upright): ``pixels`` uint8 (H, W, C), and what is needed to write it back alike."""

    pixels: np.ndarray
    name: str = "<image>"
    format: str | None = None  # PIL's format name of the source file (JPEG, PNG, WEBP, ...)
    alpha: np.ndarray | None = None  # uint8 (H, W), put back on save
    info: dict[str, Any] = field(default_factory=dict)  # icc_profile, exif (orientation removed), dpi
    framed: bool = False  # a single model image aaae wrote (already in the model's frame)

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


def load_photo(source: str | os.PathLike[str] | bytes | Image.Image | np.ndarray, channels: int = 3) -> Photo:
    """Read a photo (a path, encoded bytes, a PIL image or a uint8 array) upright, as RGB (or L) pixels."""
    if isinstance(source, np.ndarray):
        array = check_image_array(source)
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[array.shape[2]]
        return _from_pil(Image.fromarray(array[:, :, 0] if mode == "L" else array, mode), channels, "<array>")
    if isinstance(source, Image.Image):
        return _from_pil(ImageOps.exif_transpose(source) or source, channels, "<image>")
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    with open_image(source if isinstance(source, bytes) else Path(source).expanduser()) as img:
        fmt = img.format
        img.load()
        if img.getexif().get(0x0112, 1) != 1:  # only a rotated photo is copied
            img = ImageOps.exif_transpose(img)
        photo = _from_pil(img, channels, name)
        photo.format = fmt
        return photo


def _from_pil(img: Image.Image, channels: int, name: str) -> Photo:
    info: dict[str, Any] = {}
    for key in ("icc_profile", "dpi"):
        if img.info.get(key):
            info[key] = img.info[key]
    exif = img.getexif()
    if exif:
        exif.pop(0x0112, None)  # orientation: the pixels are upright now
        info["exif"] = exif.tobytes()
    alpha = None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        alpha = np.asarray(img.convert("RGBA"))[:, :, 3].copy()
    framed = img.info.get(FRAMED_KEY) == FRAMED_VALUE
    pixels = np.array(_to_mode(img, channels), dtype=np.uint8)  # a writable copy: edits may go in place
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return Photo(pixels, name, None, alpha, info, framed)


def photo_to_pil(photo: Photo, pixels: np.ndarray | None = None) -> Image.Image:
    """``pixels`` (default: the photo's own) as a PIL image, with the photo's transparency put back."""
    array = photo.pixels if pixels is None else pixels
    img = Image.fromarray(array[:, :, 0], "L") if array.shape[2] == 1 else Image.fromarray(array, "RGB")
    if photo.alpha is not None:
        img = img.convert("RGBA" if img.mode == "RGB" else "LA")
        img.putalpha(Image.fromarray(photo.alpha, "L"))
    for key, value in photo.info.items():
        img.info[key] = value
    return img


def save_photo(img: Image.Image, path: str | os.PathLike[str], like: Photo | None = None) -> None:
    """Write an edited photo atomically; the format follows the suffix, keeping the source's profile and EXIF.

    JPEG is written at quality 95 with the source's chroma subsampling kept off (4:4:4), so a second
    generation loses little; PNG and WebP (lossless when the source was) keep every unchanged pixel exact.
    """
    target = Path(path)
    fmt = IMAGE_FORMATS.get(target.suffix.lower())
    if fmt is None or fmt == "GIF":
        raise UserError(f"{target}: unsupported image suffix (use .png, .jpg or .webp)")
    options: dict[str, Any] = {}
    info = like.info if like is not None else img.info
    if info.get("icc_profile"):
        options["icc_profile"] = info["icc_profile"]
    if info.get("exif") and fmt in ("JPEG", "PNG", "WEBP"):
        options["exif"] = info["exif"]
    if fmt == "JPEG":
        options.update(quality=95, subsampling=0)
        if img.mode in ("RGBA", "LA"):
            img = img.convert("RGB" if img.mode == "RGBA" else "L")
    elif fmt == "WEBP":
        options.update(lossless=like is not None and like.format in ("PNG", "WEBP", None), quality=95)
    try:
        with atomic_open(target, "wb") as handle:
            img.save(handle, format=fmt, **options)
    except OSError as exc:
        raise UserError(f"{target}: cannot write ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UserError(f"{target}: cannot write this image as {fmt} ({exc})") from None
