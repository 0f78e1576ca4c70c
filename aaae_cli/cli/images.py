"""Images from the model: ``aaae sample``, ``aaae reconstruct`` and ``aaae interpolate``.

Each is a thin wrapper over :class:`aaae_cli.api.Model`: check the options and the output path before any work,
call the API, write the result atomically, say what was written (on stderr). The API (and so onnxruntime) is
imported only when a command runs, so ``aaae --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from aaae_cli.cli._options import (
    AlignOption,
    CropOption,
    DeviceOption,
    FaceOption,
    ModelOption,
    OverwriteOption,
    RefineOption,
    SeparateOption,
    ZoomOption,
    load_model,
    said,
)
from aaae_cli.cli._output import ImageFolderWriter, check_gif_size, check_grid_size, check_output_folder
from aaae_cli.cli._overwrite import refuse_overwriting_inputs, refuse_writing_into_model
from aaae_cli.errors import UserError
from aaae_cli.images import STILL_SUFFIXES, check_output_path, list_images, make_grid, save_image, write_gif, zoom
from aaae_cli.utils.checks import check_seed
from aaae_cli.utils.progress import RichProgress
from aaae_cli.utils.terminal import shown as _e  # control characters and markup in names: issue #13

commands = typer.Typer()  # registered on the app by aaae_cli.cli.app, in this order


# ---------------------------------------------------------------- sample


@commands.command(
    epilog="Examples:\n\n"
    "  aaae sample -n 64 out.png                      # an 8x8 grid from the default model\n\n"
    "  aaae sample -n 16 out.png --seed 7 --cols 8    # reproducible, 2 rows of 8\n\n"
    "  aaae sample -n 1000 --separate samples/        # one PNG per image, any number\n\n"
    "  aaae sample --model user/faces@v1 -n 64 faces.png --temperature 0.8",
)
def sample(
    output: Annotated[
        Path | None,
        typer.Argument(
            help="Grid image to write: .png, .jpg or .webp \\[default: samples.png, unless --separate].",
            show_default=False,
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", "--number", help="How many images.")] = 64,
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same images.")] = None,
    cols: Annotated[int | None, typer.Option(min=1, help="Images per grid row \\[default: a square grid].")] = None,
    temperature: Annotated[
        float, typer.Option(help="Noise scale: below 1 gives more typical images, above 1 more varied ones.")
    ] = 1.0,
    separate: SeparateOption = None,
    zoom_by: ZoomOption = 1,
    model: ModelOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Generate new images: noise -> approximator -> decoder."""
    if n < 1:
        raise UserError(f"-n must be at least 1 (got {n})")
    if temperature < 0:
        raise UserError(f"--temperature must be >= 0 (got {temperature})")
    grid_path = check_output_path(output) if output is not None else None
    if grid_path is None and separate is None:
        grid_path = check_output_path(Path("samples.png"))
    if separate is not None:
        check_output_folder(separate)
    net = load_model(model, device)
    refuse_writing_into_model([grid_path], net.bundle.path, separate)
    if grid_path is not None:
        check_grid_size(n, net.resolution * zoom_by, "samples")
    seed = secrets.randbelow(2**31) if seed is None else check_seed(seed)  # issue #13: -1 was a traceback
    kept: list[np.ndarray] = []
    width = len(str(n - 1))
    with (
        ImageFolderWriter(separate) if separate else contextlib.nullcontext() as folder,
        RichProgress().task("sampling", n, minimum=512) as task,
    ):
        index = 0
        for batch in net.iter_samples(n, seed=seed, temperature=temperature):
            batch = zoom(batch, zoom_by)
            if grid_path is not None:
                kept.append(batch)
            if folder is not None:
                for image in batch:
                    folder.add(image, f"sample-{index:0{width}d}.png")
                    index += 1
            task.advance(len(batch))
        if grid_path is not None:
            images = np.concatenate(kept)
            # One sample is written as itself (no grid border), tagged so that aaae reads it back uncropped.
            single = len(images) == 1
            save_image(images[0] if single else make_grid(images, cols=cols), grid_path, framed=single)
    wrote = [str(p) for p in (grid_path, separate) if p is not None]
    said(f"wrote {_e(' and '.join(wrote))}: {n} samples from {_e(net.name)} (seed {seed})")


# ---------------------------------------------------------------- reconstruct


def _expand_inputs(paths: list[Path]) -> list[Path]:
    """Image files, with folders replaced by the images inside them (recursive, sorted)."""
    files: list[Path] = []
    for path in paths:
        path = path.expanduser()
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise UserError(f"{path}: no image files in this folder")
            files += found
        elif not path.exists():
            raise UserError(f"{path}: no such file")
        else:
            files.append(path)
    return files


@commands.command(
    epilog="Examples:\n\n"
    "  aaae reconstruct face.jpg -o recon.png\n\n"
    "  aaae reconstruct face.jpg -o recon.png --refine 0     # the encoder's code alone: faster, less alike\n\n"
    "  aaae reconstruct photos/ -o recon.png --cols 2 --separate recon/",
)
def reconstruct(
    images: Annotated[list[Path], typer.Argument(help="Image files or folders of images.", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Grid image, each input beside its reconstruction \\[default: reconstructions.png, unless "
            "--separate].",
            show_default=False,
        ),
    ] = None,
    cols: Annotated[int | None, typer.Option(min=1, help="Pairs per grid row \\[default: 4].")] = None,
    separate: SeparateOption = None,
    zoom_by: ZoomOption = 1,
    refine: RefineOption = None,
    crop: CropOption = None,
    align: AlignOption = "auto",
    face: FaceOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    overwrite: OverwriteOption = False,
) -> None:
    """Encode and decode real images, to see what the model keeps of them (faces are found and aligned first)."""
    grid_path = check_output_path(output) if output is not None else None
    if separate is not None:
        check_output_folder(separate)
    elif grid_path is None:
        grid_path = check_output_path(Path("reconstructions.png"))
    files = _expand_inputs(images)
    refuse_overwriting_inputs([grid_path], files, overwrite, separate, (f"{p.stem}.png" for p in files))  # #13
    net = load_model(model, device, crop, align, face)
    refuse_writing_into_model([grid_path], net.bundle.path, separate, (f"{p.stem}.png" for p in files))
    if grid_path is not None:
        check_grid_size(2 * len(files), net.resolution * zoom_by, "images and reconstructions")
    tiles: list[np.ndarray] = []
    steps = net.default_refine if refine is None else refine
    # Refining costs a decoding per step and face: smaller chunks, and a progress bar from a few seconds of work.
    step_size, minimum = (net.batch_size, 256) if steps == 0 else (8, 16)
    with (
        ImageFolderWriter(separate) if separate else contextlib.nullcontext() as folder,
        RichProgress().task("reconstructing", len(files), minimum=minimum) as task,
    ):
        for start in range(0, len(files), step_size):
            chunk = files[start : start + step_size]
            inputs = net.prepare_batch(chunk)
            recon = net.reconstruct(inputs, refine=steps)
            if grid_path is not None:
                tiles.append(zoom(np.stack([inputs, recon], 1).reshape(-1, *inputs.shape[1:]), zoom_by))
            if folder is not None:
                for path, image in zip(chunk, zoom(recon, zoom_by), strict=True):
                    folder.add(image, f"{path.stem}.png")
            task.advance(len(chunk))
        if grid_path is not None:
            pairs = min(cols or 4, len(files))
            save_image(make_grid(np.concatenate(tiles), cols=2 * pairs), grid_path)
    wrote = [str(p) for p in (grid_path, separate) if p is not None]
    said(f"wrote {_e(' and '.join(wrote))}: {len(files)} image(s) and their reconstructions by {_e(net.name)}")


# ---------------------------------------------------------------- interpolate


@commands.command(
    epilog="Examples:\n\n"
    "  aaae interpolate a.jpg b.jpg -o morph.png               # a row of 8\n\n"
    "  aaae interpolate a.jpg b.jpg --steps 24 -o morph.gif    # an animation\n\n"
    "  aaae interpolate a.jpg b.jpg --refine 6 -o morph.png    # ends closer to the two photos",
)
def interpolate(
    a: Annotated[Path, typer.Argument(help="First image.", show_default=False)],
    b: Annotated[Path, typer.Argument(help="Second image.", show_default=False)],
    steps: Annotated[int, typer.Option(help="Images from A to B, both ends included.")] = 8,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="A row of images (.png, .jpg, .webp) or an animation (.gif).")
    ] = Path("interpolation.png"),
    with_inputs: Annotated[
        bool, typer.Option("--with-inputs", help="Put A and B themselves at the row's ends.")
    ] = False,
    duration: Annotated[int, typer.Option(min=10, help="Milliseconds per GIF frame.")] = 120,
    refine: RefineOption = None,
    zoom_by: ZoomOption = 1,
    crop: CropOption = None,
    align: AlignOption = "auto",
    face: FaceOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    overwrite: OverwriteOption = False,
) -> None:
    """Morph one real image into another through the straight line between their codes (faces aligned first)."""
    if not 2 <= steps <= 256:
        raise UserError(f"--steps must be between 2 and 256 (got {steps})")
    path = check_output_path(output, (*STILL_SUFFIXES, ".gif"))
    refuse_overwriting_inputs([path], [a, b], overwrite)  # issue #13
    net = load_model(model, device, crop, align, face)
    refuse_writing_into_model([path], net.bundle.path)
    if path.suffix.lower() != ".gif":  # a row that aaae could not read back (issue #13): refused up front
        check_grid_size(steps + 2 * with_inputs, net.resolution * zoom_by, "images in a row")
    else:  # and a GIF of gigabytes (issue 23)
        check_gif_size(steps + 2 * with_inputs, net.resolution * zoom_by)
    ends = net.prepare_batch([a.expanduser(), b.expanduser()])  # read, and faces found, once
    frames = net.interpolate(ends[0], ends[1], steps, refine=net.default_refine if refine is None else refine)
    if with_inputs:
        frames = np.concatenate([ends[:1], frames, ends[1:]])
    if path.suffix.lower() == ".gif":
        write_gif(list(frames), path, duration_ms=duration, enlarge=zoom_by)  # enlarged a frame at a time
    else:
        save_image(make_grid(zoom(frames, zoom_by), cols=len(frames)), path)
    said(f"wrote {_e(str(path))}: {steps} steps from {_e(a.name)} to {_e(b.name)}")
