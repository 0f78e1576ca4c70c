"""Reading user images exactly as the models were trained on them, and writing grids and GIFs.

One function, :func:`load_image`, turns any image file (any size or mode, EXIF-rotated, 16-bit,
palette, with alpha) into the square uint8 array a model expects. Training and the CLI both call
it, so a photo given to ``aaae edit`` is prepared the same way as the training data was.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import atomic_open

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Refuse images above this many pixels (decompression bombs); 178 MP is PIL's own error level.
MAX_PIXELS = 100_000_000
# The largest side each output format can store (WebP: 14 bits; JPEG: 16 bits).
FORMAT_MAX_SIDE = {"WEBP": 16383, "JPEG": 65535}


class ImageReadError(UserError):
    """An image file that cannot be read (not an image, truncated, too large)."""


# PNG text chunk that aaae writes into single images it made (a sample, an edit, a --separate file):
# they are already framed as the model frames its inputs, so reading one back skips the centre crop.
FRAMED_KEY, FRAMED_VALUE = "aaae", "model-framed"


def crop_for(img: Image.Image, crop: float) -> float:
    """The centre crop to apply to ``img``: none for a PNG aaae tagged as already framed, else ``crop``."""
    return 1.0 if img.info.get(FRAMED_KEY) == FRAMED_VALUE else crop


def framed_pnginfo() -> PngImagePlugin.PngInfo:
    """PNG metadata marking an image as already framed for aaae's models (see :data:`FRAMED_KEY`)."""
    info = PngImagePlugin.PngInfo()
    info.add_text(FRAMED_KEY, FRAMED_VALUE)
    return info


def load_image(
    path: str | os.PathLike[str] | bytes,
    resolution: int,
    channels: int,
    crop: float = 1.0,
) -> np.ndarray:
    """Read an image and prepare it for a model.

    Args:
        path: a file path, or the encoded file's bytes.
        resolution: the side of the square output, in pixels.
        channels: 1 (grayscale) or 3 (RGB).
        crop: the side of the centred square crop as a fraction of the image's shorter side
            (1.0 = the largest centred square; CelebA's usual 140/178 crop is 0.7865). PNGs that aaae
            wrote as single model images (:data:`FRAMED_KEY`) are not cropped again.

    Returns:
        ``uint8`` array of shape ``(resolution, resolution, channels)``.

    Raises:
        ImageReadError: the file is missing, not an image, truncated or too large.
    """
    with open_image(path) as img:
        crop = crop_for(img, crop)
        _request_reduced_decode(img, resolution, crop)
        img.load()
        orientation = img.getexif().get(_ORIENTATION, 1)
        small = _shrink(img, resolution, crop)
        if small is None:
            img = ImageOps.exif_transpose(img)
        else:  # already the centre square, reduced: a centred square maps to itself under EXIF turns
            img, crop = small, 1.0
            if orientation in _TRANSPOSE:
                img = img.transpose(_TRANSPOSE[orientation])
        img = _to_mode(img, channels)
    return prepare_pil(img, resolution, channels, crop)


@contextlib.contextmanager
def open_image(path: str | os.PathLike[str] | bytes) -> Iterator[Image.Image]:
    """``Image.open`` for untrusted files: over :data:`MAX_PIXELS` refused, and every way of failing (missing,
    a folder, not an image, a decompression bomb, a damaged file, here or while decoding inside the ``with``)
    turned into one :class:`ImageReadError` naming the file."""
    name = "<bytes>" if isinstance(path, bytes) else str(path)
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    if not isinstance(path, bytes):
        check_regular_file(path, ImageReadError)
    try:
        with warnings.catch_warnings():
            # PIL warns from 89.5 MP on; the limit here is MAX_PIXELS, checked below (PIL itself errs from 179 MP).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ImageReadError(
                        f"{name}: image is {img.width}x{img.height}, over the {MAX_PIXELS // 1_000_000} "
                        "megapixel limit (decompression bomb?)"
                    )
                yield img
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{name}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image file PIL can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(f"{name}: image too large (decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise ImageReadError(f"{name}: cannot decode image ({exc})") from None
    except Exception as exc:  # Pillow's decoders raise many kinds for damaged files (AVIF: RuntimeError, DDS: ...)
        raise ImageReadError(f"{name}: cannot decode image ({type(exc).__name__}: {str(exc)[:200]})") from None


def check_image_array(image: object) -> np.ndarray:
    """An image given as an array: uint8, HW or HWC with 1, 3 or 4 channels; returned HWC."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise UserError(f"image arrays must be uint8 (got {array.dtype}); scale to 0..255 first")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise UserError(f"an image array must be HW or HWC with 1, 3 or 4 channels, not {array.shape}")
    return array


def check_regular_file(path: str | os.PathLike[str], error: type[UserError] = UserError) -> None:
    """Refuse a FIFO, device or socket before opening it: reading one blocks forever or never ends (a missing
    file is left to the caller's own message)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise error(f"{path}: is {kind}, not a file")


def prepare_pil(img: Image.Image, resolution: int, channels: int, crop: float = 1.0) -> np.ndarray:
    """Centre-crop and resize an already decoded PIL image (the second half of :func:`load_image`)."""
    return _crop_and_resize(_to_mode(img, channels), resolution, crop_for(img, crop), channels)


def _request_reduced_decode(img: Image.Image, resolution: int, crop: float) -> None:
    """Let JPEG decode at 1/2, 1/4 or 1/8 scale when the output is much smaller (much faster)."""
    if img.format != "JPEG":
        return
    short = min(img.size)
    needed = math.ceil(resolution / max(crop, 1e-6)) * 2  # keep 2x headroom for a clean downscale
    if short > needed:
        scale = short / needed
        img.draft(img.mode, (math.ceil(img.width / scale), math.ceil(img.height / scale)))


_ORIENTATION = 0x0112  # the EXIF tag
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# A large image is box-reduced to at least this many times the output side before any mode conversion, then
# resized with Lanczos as usual: the conversions (16-bit to 8-bit, alpha on white) then touch a few hundred
# thousand pixels instead of up to 100 million (a 9,400 x 9,400 16-bit PNG took 2.4 GB; issue #13).
_HEADROOM = 4


def _shrink(img: Image.Image, resolution: int, crop: float) -> Image.Image | None:
    """The centred ``crop`` square of a large ``img``, reduced by an integer factor to no less than
    ``_HEADROOM x resolution`` on a side; None when the image is small enough to prepare as it is."""
    width, height = img.size
    side = max(1, round(min(width, height) * crop))
    factor = side // (_HEADROOM * resolution)
    if factor < 2:
        return None
    left, top = (width - side) // 2, (height - side) // 2
    size = side // factor
    box = (left, top, left + size * factor, top + size * factor)
    if img.mode.startswith("I;16"):
        return _reduce_16bit(img, box, factor)
    # A strip of ``factor`` rows at a time: PIL's reduce of a whole RGBA image makes a premultiplied copy of it,
    # and palette or bilevel images must be converted before averaging (a copy of 4 bytes per pixel).
    convert = None
    if img.mode in ("1", "P", "PA"):  # no meaningful average of palette indices or bits
        alpha = "transparency" in img.info or img.mode == "PA"
        convert = "L" if img.mode == "1" else "RGBA" if alpha else "RGB"
    out: Image.Image | None = None
    for row in range(size):
        y = top + row * factor
        strip = img.crop((box[0], y, box[2], y + factor))
        strip = (strip.convert(convert) if convert else strip).reduce(factor)
        if out is None:
            out = Image.new(strip.mode, (size, size))
        out.paste(strip, (0, row))
    assert out is not None
    return out


def _reduce_16bit(img: Image.Image, box: tuple[int, int, int, int], factor: int) -> Image.Image:
    """Box-average a 16-bit image (PIL cannot ``reduce`` it) a strip at a time, into 8-bit 'L'."""
    left, top, right, _ = box
    size = (right - left) // factor
    rows = np.empty((size, size), dtype=np.uint8)
    area = factor * factor
    for row in range(size):
        y = top + row * factor
        strip = np.asarray(img.crop((left, y, right, y + factor)), dtype=np.uint16)
        total = strip.reshape(factor, size, factor).sum(axis=(0, 2), dtype=np.uint64)
        rows[row] = (total * 255 + area * 65535 // 2) // (area * 65535)  # mean / 65535 * 255, rounded
    return Image.fromarray(rows, "L")


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Convert any PIL mode to 'L' or 'RGB'; transparent pixels are composited on white."""
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("L" if channels == 1 else "RGB")


# Rows of a 16-bit, 32-bit or float image converted at a time: no whole-image float64 copy (a 100-megapixel
# float TIFF took 2.4 GB that way; issue #23).
_STRIP_PIXELS = 1 << 20


def _strips(img: Image.Image) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, the rows' values as an array) for strips of about :data:`_STRIP_PIXELS` pixels of ``img``."""
    rows = max(1, _STRIP_PIXELS // max(1, img.width))
    for top in range(0, img.height, rows):
        yield top, np.asarray(img.crop((0, top, img.width, min(img.height, top + rows))))


def _to_8bit(img: Image.Image) -> Image.Image:
    """A 16-bit ('I;16'), 32-bit integer ('I') or float ('F') image as 8-bit 'L', a strip at a time: 16-bit
    scaled from 0..65535; 'I' from 0..255, or 0..65535 when a value exceeds 255; 'F' from 0..its maximum (at
    least 1); NaN as 0."""
    sixteen = img.mode.startswith("I;16")
    top = 65535.0
    if not sixteen:
        peak = max((float(np.nanmax(values, initial=0)) for _, values in _strips(img)), default=0.0)
        top = max(1.0, peak) if img.mode == "F" else 65535.0 if peak > 255 else 255.0
    out = np.empty((img.height, img.width), dtype=np.uint8)
    for first, values in _strips(img):
        if sixteen:  # integer arithmetic
            scaled = (values.astype(np.uint32) * 255 + 32767) // 65535
        else:
            scaled = np.nan_to_num(np.clip(values.astype(np.float32) / np.float32(top) * 255.0 + 0.5, 0, 255))
        out[first : first + len(values)] = scaled.astype(np.uint8)
    return Image.fromarray(out, "L")


def _crop_and_resize(img: Image.Image, resolution: int, crop: float, channels: int) -> np.ndarray:
    width, height = img.size
    side = max(1, round(min(width, height) * crop))
    left = (width - side) // 2
    top = (height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != resolution:
        img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
    array = np.asarray(img, dtype=np.uint8)
    if channels == 1:
        array = array[:, :, None]
    return array


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """All image files below ``folder`` (recursive), sorted, by suffix (case-insensitive)."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Model output in [-1, 1], NCHW float, to NHWC uint8."""
    array = np.clip((np.asarray(images, dtype=np.float32) + 1.0) * 127.5 + 0.5, 0, 255)
    return array.astype(np.uint8).transpose(0, 2, 3, 1)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """NHWC uint8 to NCHW float32 in [-1, 1]."""
    return (np.asarray(images, dtype=np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0).astype(np.float32)


def make_grid(images: np.ndarray, cols: int | None = None, padding: int = 2, fill: int = 255) -> np.ndarray:
    """Tile NHWC uint8 images into one HWC image, row by row, ``cols`` per row (default: square)."""
    count, height, width, channels = images.shape
    if count == 0:
        raise ValueError("no images to tile")
    cols = max(1, min(cols or math.ceil(math.sqrt(count)), count))
    rows = math.ceil(count / cols)
    side_h, side_w = rows * height + (rows + 1) * padding, cols * width + (cols + 1) * padding
    if side_h * side_w > MAX_PIXELS:  # every grid aaae writes must be one aaae can read back
        raise UserError(
            f"a grid of {count} images of {width}x{height} would be {side_w}x{side_h} pixels, over the "
            f"{MAX_PIXELS // 1_000_000} megapixel limit; use fewer images, a smaller --zoom or --separate DIR"
        )
    grid = np.full(
        (rows * height + (rows + 1) * padding, cols * width + (cols + 1) * padding, channels),
        fill,
        dtype=np.uint8,
    )
    for index, image in enumerate(images):
        row, col = divmod(index, cols)
        y = padding + row * (height + padding)
        x = padding + col * (width + padding)
        grid[y : y + height, x : x + width] = image
    return grid


def to_pil(image: np.ndarray) -> Image.Image:
    """HWC uint8 (1 or 3 channels) to a PIL image."""
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image, "L" if image.shape[2] == 1 else "RGB")


def save_png(image: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Save an HWC uint8 image as PNG atomically."""
    with atomic_open(path, "wb") as handle:
        to_pil(image).save(handle, format="PNG")


def save_gif(
    frames: list[np.ndarray],
    path: str | os.PathLike[str],
    duration_ms: int = 120,
    bounce: bool = True,
    enlarge: int = 1,
) -> None:
    """Save HWC uint8 frames as a looping GIF atomically (``bounce`` plays it forth and back), each enlarged
    ``enlarge`` times (nearest neighbour, as :func:`zoom`).

    Each frame is enlarged and reduced to GIF's 256 colours (as Pillow would when saving) one at a time, so only
    one byte a pixel is kept: 64 frames of 1024x1024 took 919 MB when enlarged and kept as RGB (issue 23)."""
    pil_frames = []
    for frame in frames:
        image = to_pil(frame)
        if enlarge > 1:
            image = image.resize((image.width * enlarge, image.height * enlarge), Image.Resampling.NEAREST)
        pil_frames.append(image.convert("P", palette=Image.Palette.ADAPTIVE) if image.mode == "RGB" else image)
    sequence = pil_frames + (pil_frames[-2:0:-1] if bounce else [])  # the way back shows the same images
    with atomic_open(path, "wb") as handle:
        sequence[0].save(handle, format="GIF", save_all=True, append_images=sequence[1:], duration=duration_ms, loop=0)


# ---------------------------------------------------------------- output files

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF"}
STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def check_output_path(path: str | os.PathLike[str], suffixes: tuple[str, ...] = STILL_SUFFIXES) -> Path:
    """Refuse an output path before any work is done: wrong suffix, missing or unwritable folder.

    Returns the path. Raises :class:`UserError` with one line saying what is wrong.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() not in suffixes:
        raise UserError(f"{target}: output must end in {', '.join(suffixes)}")
    if target.is_dir():
        raise UserError(f"{target}: is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise UserError(f"{target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{target}: cannot write in {folder} (permission denied)")
    if target.exists() and not os.access(target, os.W_OK):
        raise UserError(f"{target}: exists and is not writable")
    return target


def save_image(image: np.ndarray, path: str | os.PathLike[str], quality: int = 95, framed: bool = False) -> None:
    """Save an HWC uint8 image atomically; the format follows the suffix (png, jpg, webp).

    ``framed``: the image is one model image (not a grid); a PNG is tagged so that reading it back skips the
    centre crop. Raises :class:`UserError` when the file cannot be written (and leaves no partial file).
    """
    target = Path(path)
    fmt = IMAGE_FORMATS.get(target.suffix.lower())
    if fmt is None or fmt == "GIF":
        raise UserError(f"{target}: unsupported image suffix (use .png, .jpg or .webp)")
    limit = FORMAT_MAX_SIDE.get(fmt)
    if limit is not None and max(image.shape[:2]) > limit:
        raise UserError(
            f"{target}: {image.shape[1]}x{image.shape[0]} pixels is too large for {fmt} (at most {limit} a side); "
            "write a .png, or fewer images or a smaller --zoom"
        )
    options: dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if framed and fmt == "PNG":
        options["pnginfo"] = framed_pnginfo()
    try:
        with atomic_open(target, "wb") as handle:
            to_pil(image).save(handle, format=fmt, **options)
    except OSError as exc:
        raise UserError(f"{target}: cannot write ({exc.strerror or exc})") from None


GIF_MAX_DURATION_MS = 655_350  # a GIF frame's delay is 16 bits of 1/100 s


def write_gif(frames: list[np.ndarray], path: str | os.PathLike[str], duration_ms: int = 120, enlarge: int = 1) -> None:
    """:func:`save_gif` that turns a failed write into a :class:`UserError`."""
    if not 10 <= duration_ms <= GIF_MAX_DURATION_MS:  # Pillow overflowed on larger ones (issue #13)
        raise UserError(f"--duration {duration_ms}: a GIF frame lasts from 10 to {GIF_MAX_DURATION_MS} ms")
    try:
        save_gif(frames, path, duration_ms=duration_ms, enlarge=enlarge)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None


def zoom(images: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge NHWC (or HWC) images by an integer factor, nearest neighbour (crisp pixels)."""
    if factor <= 1:
        return images
    return images.repeat(factor, axis=-3).repeat(factor, axis=-2)
