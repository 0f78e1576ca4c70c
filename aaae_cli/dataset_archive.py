"""Reading prepared dataset archives (the zips ``python -m aaae_train.archive`` writes), torch-free.

An archive holds ``dataset.json`` (format, preprocessing, keys, attribute names, and how many data paths the
images came from), ``labels.npy`` (int8, optional) and one image per key (``images/0000000.png``...). Its keys
are the keys training gave the images, so the validation split is the one the sources would give
(:mod:`aaae_cli.datasets` says what each key and label means). Training reads archives here; the writer stays
with training (:mod:`aaae_train.archive`).

An archive is read as hostile input: fixed member names, sizes bounded before reading, every image decoded
and checked against the declared resolution and channels, labels checked for shape, type and values.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aaae_cli.errors import UserError

FORMAT = "aaae-dataset"
VERSION = 1
MANIFEST = "dataset.json"
LABELS = "labels.npy"
MAX_MANIFEST_BYTES = 256 << 20
MAX_IMAGE_BYTES = 4 << 20  # one prepared image (at most 128x128x3: 48 KiB raw)
MAX_IMAGES = 10_000_000
FORMATS = {"png": ("PNG", {"optimize": False}), "webp": ("WEBP", {"method": 4})}


def member_name(index: int, fmt: str) -> str:
    return f"images/{index:07d}.{fmt}"


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise UserError(f"{path}: damaged dataset archive (no {name})") from None
    if info.file_size > limit:
        raise UserError(f"{path}: {name} is {info.file_size} bytes, more than a prepared dataset holds")
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"{path}: {name} is larger than it says")
    return data


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The checked ``dataset.json`` of an archive (keys, attributes, preprocessing)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            raw = _read_member(archive, MANIFEST, MAX_MANIFEST_BYTES, path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a readable dataset archive ({exc})") from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
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


def read_archive(path: str | Path) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """The manifest, the images (uint8 N, R, R, C) and the labels (int8 N, A, or ``None``) of an archive."""
    path = Path(path)
    manifest = read_manifest(path)
    prep, keys, names = manifest["preprocessing"], manifest["keys"], manifest["attributes"]
    side, channels = prep["resolution"], prep["channels"]
    mode = "L" if channels == 1 else "RGB"
    images = np.empty((len(keys), side, side, channels), dtype=np.uint8)
    labels = None
    try:
        with zipfile.ZipFile(path) as archive:
            for index in range(len(keys)):
                data = _read_member(archive, member_name(index, manifest["member_suffix"]), MAX_IMAGE_BYTES, path)
                try:
                    with Image.open(io.BytesIO(data)) as img:
                        if img.size != (side, side) or img.mode != mode:
                            raise UserError(f"{path}: image {index} is {img.size} {img.mode}, not {side}x{side} {mode}")
                        pixels = np.asarray(img.convert(mode), dtype=np.uint8)
                except (OSError, ValueError, Image.DecompressionBombError) as exc:
                    raise UserError(f"{path}: image {index} is unreadable ({exc})") from None
                images[index] = pixels.reshape(side, side, channels)
            if names:
                raw = _read_member(archive, LABELS, (len(keys) * len(names)) + 4096, path)
                try:
                    labels = np.load(io.BytesIO(raw), allow_pickle=False)
                except ValueError:
                    raise UserError(f"{path}: {LABELS} is damaged") from None
                outside = labels.size > 0 and (labels.min() < -1 or labels.max() > 1)  # abs(int8 -128) is -128
                if labels.dtype != np.int8 or labels.shape != (len(keys), len(names)) or outside:
                    raise UserError(f"{path}: {LABELS} must be int8 (images x attributes) in {{-1, 0, 1}}")
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a readable dataset archive ({exc})") from None
    return manifest, images, labels
