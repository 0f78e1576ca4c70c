"""Prepared datasets in one file: decode (and align) images once, train on them anywhere.

``aaae data pack SOURCES... -o faces.zip [--align face]`` (:func:`pack`) prepares the sources exactly as
``aaae train`` would (the same decoding, centre crop or face alignment, keys and labels) and writes them into a
zip: ``dataset.json`` (format, preprocessing, keys, attribute names), ``labels.npy`` (int8, optional) and one
image per key (``images/000000.png``...). ``aaae train faces.zip`` then trains on it with no detector and no
source folders: the way to move a dataset to a GPU machine (as stylegan2's ``dataset_tool`` zips do), or to
keep the faces found once. The keys are kept, so the validation split is the one the sources would give (a key
may repeat: the same file name in two sources, as CelebA's labelled and extra faces share 248, lands in one split).

Images are PNG (lossless) by default; ``--format webp --quality 90`` makes the file about 5x smaller (mean
squared error about 1.5e-4 in [0, 1] pixels on aligned 64x64 faces: small beside a good model's 0.005, but not
nothing; the archive records it).

Reading an archive (as hostile input) is torch-free and lives with the other data sources:
:mod:`aaae_cli.data.archive`. ``python -m aaae_train.archive`` (:func:`main`) still takes the same arguments, for
scripts written before ``aaae data pack``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aaae_cli.data.archive import FORMAT, FORMATS, LABELS, MANIFEST, VERSION, member_name, read_manifest
from aaae_cli.data.sources import detect_source
from aaae_cli.errors import UserError
from aaae_cli.images import check_output_path
from aaae_cli.utils.atomic import atomic_open


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


def check_output(out: Path, inputs: list[Path]) -> None:
    """Refuse an ``-o`` that cannot be written, or could not be trained on, before anything is decoded (issue #23:
    a folder, a missing folder or an unwritable one failed only after every image had been decoded)."""
    out = out.expanduser()
    if out.suffix.lower() != ".zip":
        raise UserError(f"-o {out}: name the archive *.zip ('aaae train' takes a .zip as a prepared dataset)")
    check_output_path(out, (".zip",))  # a folder, a missing or unwritable folder
    for source in inputs:
        if out.exists() and source.exists() and os.path.samefile(out, source):
            raise UserError(f"-o {out}: is one of the data paths and would be replaced; choose another name")


@dataclass(frozen=True)
class PackOptions:
    """What ``aaae data pack`` takes (``python -m aaae_train.archive`` takes the same): the data paths, the zip to
    write, the preprocessing (``None``: what ``aaae train`` would choose for these sources) and the image format."""

    data: list[str]
    out: Path
    align: str | None = None
    resolution: int | None = None
    channels: int | None = None
    crop: float | None = None
    image_format: str = "png"
    quality: int = 90  # WebP only
    workers: int = 2
    cache_dir: Path | None = None


@dataclass(frozen=True)
class Packed:
    """What :func:`pack` wrote: how many images, how many source files it skipped, in which format."""

    out: Path
    images: int
    skipped: int
    image_format: str

    def summary(self) -> str:
        return f"{self.out}: {self.images} images ({self.skipped} skipped), {self.image_format}"


def pack(options: PackOptions) -> Packed:
    """Prepare ``options.data`` as ``aaae train`` would and write them into the zip ``options.out``.

    Every option and the output path are checked before anything is decoded (decoding a large dataset takes
    hours); an archive among the sources is re-packed as it was prepared."""
    from aaae_train.data import Preprocessing, default_cache_dir, load_dataset
    from aaae_train.options import TrainOptions

    if options.image_format not in FORMATS:
        raise UserError(f"--format {options.image_format}: use {' or '.join(FORMATS)}")
    if not 1 <= options.quality <= 100:
        raise UserError("--quality must be from 1 to 100")
    out = Path(options.out).expanduser()
    sources = [detect_source(p) for p in options.data]
    check_output(out, [s.path for s in sources])
    archives = [s for s in sources if s.kind == "archive"]  # re-packed as prepared, as training takes them
    prepared = read_manifest(archives[0].path)["preprocessing"] if archives else None
    opts = TrainOptions(
        data=list(options.data), out=str(out), resolution=options.resolution, channels=options.channels,
        crop=options.crop, align=options.align,
    ).resolve([s.kind for s in sources], prepared)  # fmt: skip
    assert opts.resolution is not None and opts.channels is not None and opts.crop is not None
    prep = Preprocessing(opts.resolution, opts.channels, opts.crop, opts.align)
    cache = Path(options.cache_dir).expanduser() if options.cache_dir else default_cache_dir()
    dataset = load_dataset(sources, prep, cache, options.workers)
    skipped = len(dataset.skipped)
    write_archive(
        out, np.asarray(dataset.images), dataset.keys, prep.to_dict(), dataset.attributes, dataset.labels,
        options.image_format, options.quality, note=f"{skipped} source files skipped (unreadable or no face)",
        sources=len(sources),
    )  # fmt: skip
    return Packed(out, len(dataset.keys), skipped, options.image_format)


def main(argv: list[str] | None = None) -> int:
    """``python -m aaae_train.archive``: ``aaae data pack`` under its old name (the same arguments, checks and
    output; one ``error:`` line and exit code 2 on bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m aaae_train.archive",
        description="Prepare images once (decoded, cropped or face-aligned, keyed and labelled as 'aaae train' "
        "would) into one zip that 'aaae train ARCHIVE.zip' trains on. The same as 'aaae data pack'.",
        epilog="example: aaae data pack data/celeba data/more_faces -o faces.zip --align face",
    )
    parser.add_argument("data", nargs="+", help="image folders, a CelebA folder or MNIST idx files")
    parser.add_argument("-o", "--out", required=True, help="the .zip to write")
    parser.add_argument("--align", choices=("none", "face"), default=None, help="face or none (default)")
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--channels", type=int, default=None)
    parser.add_argument("--crop", type=float, default=None)
    parser.add_argument("--format", choices=tuple(FORMATS), default="png")
    parser.add_argument("--quality", type=int, default=90, help="WebP quality (1-100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    options = PackOptions(
        data=args.data, out=Path(args.out), align=args.align, resolution=args.resolution, channels=args.channels,
        crop=args.crop, image_format=args.format, quality=args.quality, workers=args.workers,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
    )  # fmt: skip
    try:
        packed = pack(options)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(packed.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
