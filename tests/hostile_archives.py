"""Hostile prepared-dataset archives (issue #23 items 8 and 11): zips that ``aaae data pack`` could
have written, changed so that one thing lies or is damaged: a manifest claiming millions of images, a member whose
compressed data is broken, one marked encrypted or compressed with a method zip readers lack, a DDS image named
``.png``, label arrays of types that have no minimum. Each builder writes a small new zip and returns its path.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from aaae_train.archive import write_archive

IMAGE = "images/0000001.png"
PREP = {"resolution": 32, "channels": 1, "crop": 1.0, "align": "none"}


def good_archive(folder: Path, prep: dict | None = None) -> Path:
    """Three random images with one attribute, as the archive writer writes them."""
    prep = prep or PREP
    side, channels = prep["resolution"], prep["channels"]
    images = np.random.default_rng(0).integers(0, 256, (3, side, side, channels), dtype=np.uint8)
    path = folder / f"good-{side}x{channels}.zip"
    write_archive(path, images, ["a", "b", "c"], prep, ["Smiling"], np.ones((3, 1), dtype=np.int8))
    return path


def _rewrite(good: Path, out: Path, member: str, data: bytes, method: int = zipfile.ZIP_STORED) -> Path:
    """A copy of ``good`` with ``member`` holding ``data`` (compressed with ``method``)."""
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if item.filename == member:
                target.writestr(zipfile.ZipInfo(member, item.date_time), data, compress_type=method)
            else:
                target.writestr(item, source.read(item))
    return out


def _central_entry(raw: bytes, member: str) -> int:
    """Where ``member``'s entry of the zip's central directory starts."""
    at = 0
    while True:
        at = raw.index(b"PK\x01\x02", at)
        length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + length] == member.encode():
            return at
        at += 4


def _patch_field(good: Path, out: Path, local: tuple[int, str] | None, central: tuple[int, str], value: int) -> Path:
    """A copy of ``good`` with one header field of :data:`IMAGE` set to ``value`` (offsets into its local and
    central headers, with their struct formats)."""
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        local_at = archive.getinfo(IMAGE).header_offset
    if local is not None:
        struct.pack_into(local[1], raw, local_at + local[0], value)
    struct.pack_into(central[1], raw, _central_entry(bytes(raw), IMAGE) + central[0], value)
    out.write_bytes(bytes(raw))
    return out


def lying_manifest(good: Path, out: Path, claimed: int = 10_000_000) -> Path:
    """The issue's case: a manifest listing ``claimed`` images (deflated: tens of KB) over three real members."""
    manifest = json.loads(zipfile.ZipFile(good).read("dataset.json"))
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "dataset.json":
                data = json.dumps({**manifest, "keys": ["a"] * claimed}).encode()
            target.writestr(item.filename, data)
    return out


def short_of_members(good: Path, out: Path) -> Path:
    """A manifest of 200 keys, small enough to be read, over three images: the members are missing."""
    return lying_manifest(good, out, claimed=200)


def past_the_end(good: Path, out: Path) -> Path:
    """An image whose directory entry says its compressed data runs 2 GB, past the end of the file."""
    return _patch_field(good, out, None, (20, "<I"), 0x7FFF_FFFF)


def broken_deflate(good: Path, out: Path) -> Path:
    """An image deflated, then its first compressed bytes made an invalid block type (zlib.error)."""
    png = zipfile.ZipFile(good).read(IMAGE)
    _rewrite(good, out, IMAGE, png, zipfile.ZIP_DEFLATED)
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as archive:
        at = archive.getinfo(IMAGE).header_offset
    name_length, extra_length = struct.unpack_from("<HH", raw, at + 26)
    start = at + 30 + name_length + extra_length
    raw[start : start + 2] = b"\xff\xff"
    out.write_bytes(bytes(raw))
    return out


def encrypted(good: Path, out: Path) -> Path:
    """An image marked encrypted (general purpose flag bit 0)."""
    return _patch_field(good, out, (6, "<H"), (8, "<H"), 0x1)


def unknown_method(good: Path, out: Path) -> Path:
    """An image compressed with method 99 (WinZip AES), which zipfile cannot read."""
    return _patch_field(good, out, (8, "<H"), (10, "<H"), 99)


def dds_named_png(good: Path, out: Path) -> Path:
    """A DDS image of the right size and mode where a PNG belongs."""
    data = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(data, "DDS")
    return _rewrite(good, out, IMAGE, data.getvalue())


def _labels_of(dtype: object) -> Callable[[Path, Path], Path]:
    def build(good: Path, out: Path) -> Path:
        data = io.BytesIO()
        np.save(data, np.zeros((3, 1), dtype=dtype), allow_pickle=False)
        return _rewrite(good, out, "labels.npy", data.getvalue())

    build.__doc__ = f"labels.npy of dtype {dtype!r}"
    return build


# name: (builder, what the one error line says)
DAMAGED: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "lying-manifest": (lying_manifest, "dataset.json is larger than the keys of its 5 members"),
    "short-of-members": (short_of_members, "lists 200 images, but the archive has no images/0000003.png"),
    "past-the-end": (past_the_end, "past the end of the file"),
    "broken-deflate": (broken_deflate, f"{IMAGE} is damaged"),
    "encrypted": (encrypted, f"{IMAGE} is encrypted"),
    "unknown-method": (unknown_method, "compression method 99"),
    "dds-named-png": (dds_named_png, "image 1 is unreadable (not a PNG image)"),
    "labels-string": (_labels_of("<U1"), "labels.npy must be int8"),
    "labels-void": (_labels_of("V1"), "labels.npy must be int8"),
    "labels-structured": (_labels_of([("a", "i1")]), "labels.npy must be int8"),
    "labels-datetime": (_labels_of("M8[s]"), "labels.npy must be int8"),
}
