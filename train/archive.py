"""Prepared datasets in one file: decode (and align) images once, train on them anywhere.

``python -m aaae_train.archive SOURCES... -o faces.zip [--align face]`` prepares the sources exactly as
``aaae train`` would (the same decoding, centre crop or face alignment, keys and labels) and writes them into a
zip: ``dataset.json`` (format, preprocessing, keys, attribute names), ``labels.npy`` (int8, optional) and one
image per key (``images/000000.png``...). ``aaae train faces.zip`` then trains on it with no detector and no
source folders: the way to move a dataset to a GPU machine (as stylegan2's ``dataset_tool`` zips do), or to
keep the faces found once. The keys are kept, so the validation split is the one the sources would give (a key
may repeat: the same file name in two sources, as CelebA's labelled and extra faces share 248, lands in one split).

Images are PNG (lossless) by default; ``--format webp --quality 90`` makes the file about 5x smaller (mean
squared error about 1.5e-4 in [0, 1] pixels on aligned 64x64 faces: small beside a good model's 0.005, but not
nothing; the archive records it).

An archive is read as hostile input: fixed member names, sizes bounded before reading, every image decoded
and checked against the declared resolution and channels, labels checked for shape, type and values.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aaae_cli.atomic import atomic_open
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


def write_archive(
    path: str | Path,
    images: np.ndarray,
    keys: list[str],
    preprocessing: dict[str, Any],
    attributes: list[str] | None = None,
    labels: np.ndarray | None = None,
    fmt: str = "png",
    quality: int = 90,
    note: str = "",
    sources: int = 1,
) -> None:
    """Write prepared uint8 ``images`` (N, R, R, C) with their ``keys`` (and labels) into the zip at ``path``.
    ``sources``: how many data paths they came from (with several, keys are "folder/name"; ``aaae eval`` must name
    images alike to hold out the same ones)."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: use {' or '.join(FORMATS)}")
    if len(images) != len(keys):
        raise ValueError("one key per image")
    pil_format, options = FORMATS[fmt]
    if fmt == "webp":
        options = {**options, "quality": quality}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "preprocessing": preprocessing,
        "image_format": fmt if fmt == "png" else f"{fmt} quality {quality} (lossy)",
        "member_suffix": fmt,
        "keys": keys,
        "attributes": attributes or [],
        "sources": sources,
        "note": note,
    }
    with atomic_open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest))
        if labels is not None and attributes:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(labels, dtype=np.int8), allow_pickle=False)
            archive.writestr(LABELS, buffer.getvalue())
        for index, image in enumerate(images):
            buffer = io.BytesIO()
            Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(buffer, pil_format, **options)
            archive.writestr(member_name(index, fmt), buffer.getvalue())


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
                if labels.dtype != np.int8 or labels.shape != (len(keys), len(names)) or np.abs(labels).max() > 1:
                    raise UserError(f"{path}: {LABELS} must be int8 (images x attributes) in {{-1, 0, 1}}")
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a readable dataset archive ({exc})") from None
    return manifest, images, labels


def main(argv: list[str] | None = None) -> int:
    from aaae_train.data import Preprocessing, default_cache_dir, detect_source, load_dataset
    from aaae_train.options import TrainOptions

    parser = argparse.ArgumentParser(
        prog="python -m aaae_train.archive",
        description="Prepare images once (decoded, cropped or face-aligned, keyed and labelled as 'aaae train' "
        "would) into one zip that 'aaae train ARCHIVE.zip' trains on.",
        epilog="example: python -m aaae_train.archive data/celeba data/more_faces -o faces.zip --align face",
    )
    parser.add_argument("data", nargs="+", help="image folders, a CelebA folder or MNIST idx files")
    parser.add_argument("-o", "--out", required=True, help="the .zip to write")
    parser.add_argument("--align", choices=("none", "face"), default="none")
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--channels", type=int, default=None)
    parser.add_argument("--crop", type=float, default=None)
    parser.add_argument("--format", choices=tuple(FORMATS), default="png")
    parser.add_argument("--quality", type=int, default=90, help="WebP quality (1-100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    try:
        if not 1 <= args.quality <= 100:  # checked before hours of decoding, not after
            raise UserError("--quality must be from 1 to 100")
        sources = [detect_source(p) for p in args.data]
        opts = TrainOptions(
            data=args.data, out=args.out, resolution=args.resolution, channels=args.channels, crop=args.crop,
            align=args.align,
        ).resolve([s.kind for s in sources])  # fmt: skip
        assert opts.resolution is not None and opts.channels is not None and opts.crop is not None
        prep = Preprocessing(opts.resolution, opts.channels, opts.crop, opts.align)
        cache = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
        dataset = load_dataset(sources, prep, cache, args.workers)
        write_archive(
            args.out, np.asarray(dataset.images), dataset.keys, prep.to_dict(), dataset.attributes, dataset.labels,
            args.format, args.quality, note=f"{len(dataset.skipped)} source files skipped (unreadable or no face)",
            sources=len(sources),
        )  # fmt: skip
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(dataset.keys)} images ({len(dataset.skipped)} skipped), {args.format}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
