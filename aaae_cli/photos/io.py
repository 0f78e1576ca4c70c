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

from aaae_cli.errors import UserError
from aaae_cli.images import FRAMED_KEY, FRAMED_VALUE, IMAGE_FORMATS, _to_8bit, _to_mode, check_image_array, open_image
from aaae_cli.utils.atomic import atomic_open


@dataclass
class Photo:
    """A photo as shown (upright): ``pixels`` uint8 (H, W, C), and what is needed to write it back alike.

    ``pixels`` is what the model sees: a transparent photo composited on white. Its own colour and alpha are
    kept beside it (``straight``, only when some pixel is not opaque, else the colour is ``pixels``), so that
    writing it back changes nothing but what an edit changed (issue #23).
    """

    pixels: np.ndarray
    name: str = "<image>"
    format: str | None = None  # PIL's format name of the source file (JPEG, PNG, WEBP, ...)
    alpha: np.ndarray | None = None  # uint8 (H, W), put back on save
    info: dict[str, Any] = field(default_factory=dict)  # icc_profile, exif (orientation removed), dpi
    framed: bool = False  # a single model image aaae wrote (already in the model's frame)
    straight: np.ndarray | None = None  # uint8 (H, W, C + 1): own colour (not composited) and alpha, if not opaque

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def colour(self) -> np.ndarray | None:
        """The photo's own colour, uint8 (H, W, C), when some pixel is not opaque (else it is ``pixels``)."""
        return None if self.straight is None else self.straight[:, :, :-1]


def load_photo(source: str | os.PathLike[str] | bytes | Image.Image | np.ndarray, channels: int = 3) -> Photo:
    """Read a photo (a path, encoded bytes, a PIL image or a uint8 array) upright, as RGB (or L) pixels.

    A file is read a strip of rows at a time into the arrays the photo keeps, and PIL's own copy (4 bytes a
    pixel) is released before an EXIF rotation is applied, so an 88-megapixel photo takes about twice its
    pixels' size at most (issue #23)."""
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
        orientation = img.getexif().get(_ORIENTATION, 1)
        photo = _from_pil(img, channels, name, release=True)  # PIL's copy released before any rotation
    photo.format = fmt
    if orientation in _TURNS:
        _turn_upright(photo, orientation)
    return photo


_ORIENTATION = 0x0112  # the EXIF tag
# EXIF orientation -> the array operation that shows the photo upright (as ImageOps.exif_transpose does).
_TURNS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def _turn_upright(photo: Photo, orientation: int) -> None:
    """Apply an EXIF ``orientation`` to the photo's arrays (one at a time: one extra copy at most)."""
    turn = _TURNS[orientation]
    photo.pixels = np.ascontiguousarray(turn(photo.pixels))
    if photo.straight is not None:
        photo.straight = np.ascontiguousarray(turn(photo.straight))
        photo.alpha = photo.straight[:, :, -1]
    elif photo.alpha is not None:
        photo.alpha = np.ascontiguousarray(turn(photo.alpha))
    dpi = photo.info.get("dpi")
    if orientation >= 5 and isinstance(dpi, tuple) and len(dpi) == 2:
        photo.info["dpi"] = (dpi[1], dpi[0])


# Pixels read or written at a time (a strip of rows): PIL converts and copies strips, never the whole photo.
STRIP_PIXELS = 1 << 20
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _strip_rows(width: int) -> int:
    return max(1, STRIP_PIXELS // max(1, width))


def _from_pil(img: Image.Image, channels: int, name: str, release: bool = False) -> Photo:
    """The photo of a decoded image: its pixels read a strip at a time in the model's mode (``release``: the image's
    own pixels are released once read, before a transparent photo's composite is made)."""
    out_mode = "L" if channels == 1 else "RGB"
    info = _kept_info(img, out_mode)
    framed = img.info.get(FRAMED_KEY) == FRAMED_VALUE
    source = img
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        img = _to_8bit(img)
    has_alpha = img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)
    width, height = img.size
    # Own colour, then alpha (one array: written back as it is, in place); writable: edits may go in place.
    own = np.empty((height, width, channels + has_alpha), dtype=np.uint8)
    rows = _strip_rows(width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = img.crop((0, top, width, bottom))
        if not has_alpha:
            own[top:bottom] = np.asarray(_to_mode(strip, channels)).reshape(bottom - top, width, channels)
            continue
        rgba = strip.convert("RGBA")
        own[top:bottom, :, -1] = np.asarray(rgba)[:, :, 3]
        colour = np.asarray(rgba.convert("RGB").convert(out_mode)).reshape(bottom - top, width, channels)
        own[top:bottom, :, :channels] = colour
    del img  # the 8-bit copy of a 16-bit or float image, if one was made
    if release:
        source.close()
    if not has_alpha:
        return Photo(own, name, None, None, info, framed)
    alpha = own[:, :, -1]
    if alpha.min() == 255:  # opaque: the photo's colour is what the model sees
        return Photo(np.ascontiguousarray(own[:, :, :-1]), name, None, alpha.copy(), info, framed)
    pixels = np.empty((height, width, channels), dtype=np.uint8)
    for top in range(0, height, rows):
        pixels[top : top + rows] = composite(own[top : top + rows, :, :-1], alpha[top : top + rows])
    return Photo(pixels, name, None, alpha, info, framed, own)


def composite(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """What the model sees of transparent pixels: ``colour`` (h, w, C uint8) with ``alpha`` (h, w) composited on
    white, as :func:`aaae_cli.images.load_image` does (uint8 (h, w, C))."""
    rows, width, channels = colour.shape
    mode = "LA" if channels == 1 else "RGBA"
    img = Image.fromarray(np.dstack([colour, alpha]), mode)
    return np.asarray(_to_mode(img, channels)).reshape(rows, width, channels)


def _kept_info(img: Image.Image, out_mode: str) -> dict[str, Any]:
    """The metadata that still describes the photo once written in ``out_mode``: a colour profile of that colour
    space (a CMYK or grayscale profile does not describe RGB pixels), the resolution, and the EXIF tags that
    describe the picture (not a TIFF's layout: its strip offsets made an 88 MP TIFF's EXIF too long for JPEG)."""
    info: dict[str, Any] = {}
    profile = img.info.get("icc_profile")
    if isinstance(profile, bytes) and profile_space(profile) == _PROFILE_SPACES[out_mode]:
        info["icc_profile"] = profile
    if img.info.get("dpi"):
        info["dpi"] = img.info["dpi"]
    exif = img.getexif()
    for tag in [*_LAYOUT_TAGS, _ORIENTATION]:  # orientation: the pixels are upright once loaded
        exif.pop(tag, None)
    if exif:
        info["exif"] = exif.tobytes()
    return info


# An ICC profile's colour space (bytes 16-20 of its header) for each mode a photo is written in.
_PROFILE_SPACES = {"RGB": b"RGB ", "RGBA": b"RGB ", "L": b"GRAY", "LA": b"GRAY"}
# TIFF tags that describe how a file stores its pixels, not the picture (TIFF 6.0 and its extensions): Pillow
# reads them as a TIFF's EXIF, and they are wrong for any other file.
_LAYOUT_TAGS = (
    254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281, 284, 288, 289, 290, 291,
    292, 293, 301, 317, 318, 319, 320, 321, 322, 323, 324, 325, 330, 332, 334, 338, 339, 340, 341, 347, 512, 513,
    514, 515, 517, 518, 519, 520, 521, 529, 530, 531, 532, 34675,
)  # fmt: skip


def profile_space(profile: bytes) -> bytes:
    """The colour space signature of an ICC profile (``b"RGB "``, ``b"GRAY"``, ``b"CMYK"``, ...); b"" if too short."""
    return profile[16:20] if len(profile) >= 128 else b""


def photo_to_pil(photo: Photo, pixels: np.ndarray | None = None, in_place: bool = False) -> Image.Image:
    """``pixels`` (default: the photo's own) as a PIL image, with the photo's transparency put back.

    A transparent photo gets its own colour and alpha back wherever ``pixels`` equal what the model saw, and
    its colour plus the edit's change elsewhere: at strength 0 the photo comes back bit for bit. ``in_place``
    (the photo's pixels were edited in place, the photo is done with): its own colour is changed to match, and
    the image shares that memory instead of copying an 88-megapixel photo once more."""
    array = photo.pixels if pixels is None else pixels
    channels = array.shape[2]
    mode = "L" if channels == 1 else "RGB"
    if photo.alpha is None:
        img = Image.fromarray(array[:, :, 0], mode) if channels == 1 else Image.fromarray(array, mode)
    else:
        height, width = photo.alpha.shape
        straight = photo.straight
        out = straight if in_place and straight is not None else np.empty((height, width, channels + 1), np.uint8)
        rows = _strip_rows(width)
        for top in range(0, height, rows):
            part = slice(top, min(height, top + rows))
            if straight is None:  # opaque: the pixels as they are
                out[part, :, :channels] = array[part]
            else:
                out[part, :, :channels] = _with_change(straight[part, :, :channels], photo.alpha[part], array[part])
            if out is not straight:
                out[part, :, channels] = photo.alpha[part]
        alpha_mode = "LA" if channels == 1 else "RGBA"
        img = Image.frombuffer(alpha_mode, (width, height), out, "raw", alpha_mode, 0, 1)
    for key, value in photo.info.items():
        img.info[key] = value
    return img


def flatten(photo: Photo) -> Image.Image:
    """A transparent photo for a format without transparency (JPEG): as the model saw it, composited on white, its
    edits included; its transparent copy is released first (an 88-megapixel photo: 350 MB each)."""
    photo.straight = None
    photo.alpha = None
    pixels = photo.pixels
    img = Image.fromarray(pixels[:, :, 0], "L") if pixels.shape[2] == 1 else Image.fromarray(pixels, "RGB")
    for key, value in photo.info.items():
        img.info[key] = value
    return img


def _with_change(colour: np.ndarray, alpha: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The photo's own ``colour`` plus what an edit changed in what the model saw (``seen`` minus the composite)."""
    change = seen.astype(np.int16) - composite(colour, alpha)
    return np.clip(colour + change, 0, 255).astype(np.uint8)


JPEG_MAX_EXIF = 65_533  # bytes of EXIF one JPEG segment holds (with the 'Exif' header Pillow adds)


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
    if fmt == "JPEG" and img.mode in ("RGBA", "LA"):
        img = img.convert("RGB" if img.mode == "RGBA" else "L")
    profile = info.get("icc_profile")
    if isinstance(profile, bytes) and profile_space(profile) == _PROFILE_SPACES.get(img.mode):
        options["icc_profile"] = profile
    exif = info.get("exif")
    if exif and fmt in ("JPEG", "PNG", "WEBP") and not (fmt == "JPEG" and len(exif) > JPEG_MAX_EXIF):
        options["exif"] = exif  # a JPEG holds at most 64 KB of it: more (a large maker note) is not written
    if fmt == "JPEG":
        options.update(quality=95, subsampling=0)
    elif fmt == "WEBP":
        options.update(lossless=like is not None and like.format in ("PNG", "WEBP", None), quality=95)
    try:
        with atomic_open(target, "wb") as handle:
            img.save(handle, format=fmt, **options)
    except OSError as exc:
        raise UserError(f"{target}: cannot write ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UserError(f"{target}: cannot write this image as {fmt} ({exc})") from None
