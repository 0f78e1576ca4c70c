"""``aaae data pack``: datasets prepared once, a thin wrapper over :func:`aaae_train.archive.pack`.

The archive is decoded, cropped or face-aligned, keyed and labelled exactly as ``aaae train`` would prepare its
sources, so ``aaae train ARCHIVE.zip`` trains on it with no detector and no source folders (the way to carry a
dataset to a GPU machine). :mod:`aaae_train.archive` is imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aaae_cli.cli._options import CacheDirOption, ChannelsOption, CropOption, ResolutionOption, command_group
from aaae_cli.cli._torch import torch_module
from aaae_cli.utils.progress import out
from aaae_cli.utils.terminal import shown

app = command_group(
    "Datasets prepared once (decoded, cropped or face-aligned) into one zip that 'aaae train' trains on."
)


@app.command(
    "pack",
    epilog="Examples:\n\n"
    "  aaae data pack data/celeba data/more_faces -o faces.zip --align face  # faces aligned once\n\n"
    "  aaae data pack ~/photos -o photos.zip --format webp   # about 5x smaller, slightly lossy\n\n"
    "  aaae data pack train-images-idx3-ubyte.gz -o digits.zip\n\n"
    "  aaae train faces.zip --out runs/faces   # then train on it, on any machine",
)
def pack(
    data: Annotated[list[Path], typer.Argument(help="Image folders, a CelebA folder or MNIST idx files.")],
    archive: Annotated[Path, typer.Option("--out", "-o", help="The .zip to write.")],
    align: Annotated[
        str | None,
        typer.Option(
            help="face: find each image's face and align it as 'aaae edit' aligns photos (images without a face "
            "are skipped); none: the centre crop \\[default: none].",
            show_default=False,
        ),
    ] = None,
    resolution: ResolutionOption = None,
    channels: ChannelsOption = None,
    crop: CropOption = None,
    image_format: Annotated[
        str, typer.Option("--format", help="png (lossless) or webp (about 5x smaller, lossy; see --quality).")
    ] = "png",
    quality: Annotated[int, typer.Option(help="WebP quality, 1 to 100.")] = 90,
    workers: Annotated[int, typer.Option(help="Processes decoding images.")] = 2,
    cache_dir: CacheDirOption = None,
) -> None:
    """Prepare images once, as 'aaae train' would, into one zip that 'aaae train ARCHIVE.zip' trains on."""
    archives = torch_module("archive")
    options = archives.PackOptions(
        data=[str(path) for path in data],
        out=archive,
        align=align,
        resolution=resolution,
        channels=channels,
        crop=crop,
        image_format=image_format,
        quality=quality,
        workers=workers,
        cache_dir=cache_dir,
    )
    out.print(shown(archives.pack(options).summary()), soft_wrap=True)
