"""Reading prepared dataset archives (the zips ``aaae data pack`` writes), torch-free.

An archive holds ``dataset.json`` (format, preprocessing, keys, attribute names, and how many data paths the
images came from), ``labels.npy`` (int8, optional) and one image per key (``images/0000000.png``...). Its keys
are the keys training gave the images, so the validation split is the one the sources would give
(:mod:`aaae_cli.data.sources` says what each key and label means). Training reads archives here; the writer stays
with training (:mod:`aaae_train.archive`).

An archive is read as hostile input: fixed member names, sizes bounded before reading, every image decoded
and checked against the declared resolution and channels, labels checked for shape, type and values.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from aaae_cli.errors import UserError

FORMAT = "aaae-dataset"
VERSION = 1
MANIFEST = "dataset.json"
LABELS = "labels.npy"
MAX_MANIFEST_BYTES = 256 << 20
MAX_IMAGE_BYTES = 4 << 20  # one prepared image (at most 128x128x3: 48 KiB raw)
MAX_IMAGES = 10_000_000
FORMATS = {"png": ("PNG", {"optimize": False}), "webp": ("WEBP", {"method": 4})}
# A key of up to 1024 characters takes at most 12 bytes a character in JSON (an astral character is two \\uXXXX
# escapes), and 4 more for its quotes, comma and space: what bounds a manifest before it is parsed.
MANIFEST_BYTES_PER_MEMBER = 1024 * 12 + 4
MANIFEST_BASE_BYTES = 1 << 20  # preprocessing, attribute names, note
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


def member_name(index: int, fmt: str) -> str:
    return f"images/{index:07d}.{fmt}"


def _member_info(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> zipfile.ZipInfo:
    """The directory entry of ``name``, checked before any of it is read: present, no larger than ``limit``, not
    encrypted, compressed in a way ``zipfile`` reads (the writer stores members; deflate is read too)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise UserError(f"{path}: damaged dataset archive (no {name})") from None
    if info.file_size > limit:
        raise UserError(f"{path}: {name} is {info.file_size} bytes, more than a prepared dataset holds")
    if info.flag_bits & 0x1:
        raise UserError(f"{path}: {name} is encrypted; a dataset archive is not")
    if info.compress_type not in READABLE_METHODS:
        raise UserError(f"{path}: {name} uses zip compression method {info.compress_type} (not stored or deflated)")
    return info


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    """The bytes of member ``name`` (at most ``limit``); damaged compressed data is one :class:`UserError`."""
    info = _member_info(archive, name, limit, path)
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise UserError(f"{path}: {name} is damaged ({type(exc).__name__}: {str(exc)[:200]})") from None
    if len(data) > limit:
        raise UserError(f"{path}: {name} is larger than it says")
    return data


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The checked ``dataset.json`` of an archive (keys, attributes, preprocessing), checked against the members
    the zip really holds: every image it lists is there, of a bounded size, so no reader allocates for images
    that a small file only claims to hold."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _checked_manifest(archive, path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a readable dataset archive ({exc})") from None


def _checked_manifest(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    """:func:`read_manifest` on an open ``archive``."""
    members = len(archive.infolist())  # the zip's own directory: what the file really holds
    budget = min(MAX_MANIFEST_BYTES, MANIFEST_BASE_BYTES + members * MANIFEST_BYTES_PER_MEMBER)
    if _member_info(archive, MANIFEST, MAX_MANIFEST_BYTES, path).file_size > budget:
        raise UserError(f"{path}: {MANIFEST} is larger than the keys of its {members} members can make it (damaged)")
    manifest = _parse_manifest(_read_member(archive, MANIFEST, budget, path), path)
    _check_members(archive, manifest, path)
    return manifest


def _parse_manifest(raw: bytes, path: Path) -> dict[str, Any]:
    """The manifest's JSON, its format, version and fields checked (not yet against the members)."""
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UserError(f"{path}: {MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{path}: not an aaae dataset archive")
    if manifest.get("version") != VERSION:
        raise UserError(f"{path}: dataset archive version {manifest.get('version')!r}; this aaae reads {VERSION}")
    prep, keys, names = manifest.get("preprocessing"), manifest.get("keys"), manifest.get("attributes")
    ok = (
        isinstance(prep, dict)
        and prep.get("resolution") in (32, 64, 128)
        and prep.get("channels") in (1, 3)
        and prep.get("align", "none") in ("none", "face")
        and isinstance(prep.get("crop"), int | float)
        and isinstance(keys, list)
        and 0 < len(keys) <= MAX_IMAGES
        and all(isinstance(k, str) and 0 < len(k) <= 1024 for k in keys)
        and isinstance(names, list)
        and all(isinstance(n, str) and 0 < len(n) <= 256 for n in names)
        and manifest.get("member_suffix") in FORMATS
        and isinstance(manifest.get("sources", 1), int)
        and 1 <= manifest.get("sources", 1) <= 1024
    )
    if not ok:
        raise UserError(f"{path}: {MANIFEST} is damaged (preprocessing, keys or attribute names)")
    return manifest


def _check_members(archive: zipfile.ZipFile, manifest: dict[str, Any], path: Path) -> None:
    """Every image (and the labels) the manifest lists is a member of the zip, readable and of a bounded size, and
    lies within the file: a 73 KB zip that claims 10 million images is refused here, before anything is
    allocated for them (issue #23)."""
    size = path.stat().st_size
    keys, suffix = manifest["keys"], manifest["member_suffix"]
    names = [member_name(index, suffix) for index in range(len(keys))]
    if manifest["attributes"]:
        names.append(LABELS)
    present = set(archive.namelist())
    for name in names:
        if name not in present:
            raise UserError(
                f"{path}: {MANIFEST} lists {len(keys)} images, but the archive has no {name} (damaged, or not "
                "written by aaae data pack)"
            )
        limit = _labels_limit(manifest) if name == LABELS else MAX_IMAGE_BYTES
        info = _member_info(archive, name, limit, path)
        if info.header_offset + info.compress_size > size:
            raise UserError(f"{path}: {name} would end past the end of the file (damaged or truncated)")


def _labels_limit(manifest: dict[str, Any]) -> int:
    """The most bytes ``labels.npy`` can take: one int8 a key and attribute, and the header."""
    return len(manifest["keys"]) * len(manifest["attributes"]) + 4096


def _decode_image(data: bytes, suffix: str, side: int, mode: str, where: str) -> np.ndarray:
    """One member's pixels, (side, side, channels) uint8. Only the format its name says is tried (a DDS or any other
    format named ``.png`` is refused), and every way a decoder fails is one :class:`UserError`."""
    try:
        with Image.open(io.BytesIO(data), formats=[FORMATS[suffix][0]]) as img:
            # WebP has no grayscale: the writer's L images come back RGB (grey in every channel)
            grey_webp = suffix == "webp" and mode == "L" and img.mode == "RGB"
            if img.size != (side, side) or (img.mode != mode and not grey_webp):
                raise UserError(f"{where} is {img.size} {img.mode}, not {side}x{side} {mode}")
            pixels = np.asarray(img.convert(mode), dtype=np.uint8)
    except UserError:
        raise
    except UnidentifiedImageError:
        raise UserError(f"{where} is unreadable (not a {suffix.upper()} image)") from None
    except Exception as exc:  # Pillow's decoders raise many kinds for damaged data
        raise UserError(f"{where} is unreadable ({type(exc).__name__}: {str(exc)[:200]})") from None
    return pixels.reshape(side, side, -1)


def _read_labels(archive: zipfile.ZipFile, manifest: dict[str, Any], path: Path) -> np.ndarray:
    """``labels.npy``: int8 (images x attributes) in {-1, 0, 1}; any other type, shape or value is refused before
    a value is looked at (strings, voids, records or datetimes have no minimum to compare)."""
    raw = _read_member(archive, LABELS, _labels_limit(manifest), path)
    try:
        labels = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, EOFError, OSError):
        raise UserError(f"{path}: {LABELS} is damaged") from None
    expected = (len(manifest["keys"]), len(manifest["attributes"]))
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int8 or labels.shape != expected:
        raise UserError(f"{path}: {LABELS} must be int8 (images x attributes) in {{-1, 0, 1}}")
    if labels.size > 0 and (labels.min() < -1 or labels.max() > 1):  # abs(int8 -128) is -128
        raise UserError(f"{path}: {LABELS} must be int8 (images x attributes) in {{-1, 0, 1}}")
    return labels


def read_archive(path: str | Path) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """The manifest, the images (uint8 N, R, R, C) and the labels (int8 N, A, or ``None``) of an archive."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _checked_manifest(archive, path)  # before the images are allocated
            prep, suffix = manifest["preprocessing"], manifest["member_suffix"]
            side, channels = prep["resolution"], prep["channels"]
            mode = "L" if channels == 1 else "RGB"
            images = np.empty((len(manifest["keys"]), side, side, channels), dtype=np.uint8)
            for index in range(len(images)):
                data = _read_member(archive, member_name(index, suffix), MAX_IMAGE_BYTES, path)
                images[index] = _decode_image(data, suffix, side, mode, f"{path}: image {index}")
            labels = _read_labels(archive, manifest, path) if manifest["attributes"] else None
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a readable dataset archive ({exc})") from None
    return manifest, images, labels
