"""The runtime commands (sample, reconstruct, interpolate, edit, attributes, info), ``export`` and ``push``.

Each is a thin wrapper over :mod:`aaae_cli.api`: parse and check the options, check the output path before
any work, call the API, write the result atomically, say what was written (on stderr). They import the
API (and so onnxruntime) only when they run, so ``aaae --help`` stays fast; none imports torch, except
``export``, which imports :mod:`aaae_train.export` lazily.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from aaae_cli.checks import check_seed
from aaae_cli.errors import UserError
from aaae_cli.images import STILL_SUFFIXES, check_output_path, list_images, make_grid, save_image, write_gif, zoom
from aaae_cli.output import ImageFolderWriter, check_grid_size, check_output_folder, progress
from aaae_cli.overwrite import OverwriteOption, refuse_overwriting_inputs
from aaae_cli.terminal import shown as _e  # control characters and markup in names: issue #13

if TYPE_CHECKING:
    from aaae_cli.api import Model

err = Console(stderr=True, emoji=False)
out = Console(highlight=False, emoji=False)

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Built-in model name, bundle folder, or Hugging Face Hub id user/name\\[@revision] "
        "\\[default: $AAAE_MODEL, else the built-in model].",
        show_default=False,
    ),
]
DeviceOption = Annotated[str, typer.Option(help="auto (CUDA when onnxruntime can use it, else CPU), cpu or cuda.")]
ZoomOption = Annotated[int, typer.Option(min=1, max=16, help="Enlarge each image N times (nearest neighbour).")]
CropOption = Annotated[
    float | None,
    typer.Option(
        "--crop",
        min=0.05,
        max=1.0,
        help="Centre crop of input photos, as a fraction of the shorter side, for models without face alignment "
        "or with --align none \\[default: the model's, e.g. 0.79 for faces]; 1 for photos already cropped to the "
        "subject. Single images aaae wrote are never re-cropped.",
        show_default=False,
    ),
]
AlignOption = Annotated[
    str,
    typer.Option(
        "--align",
        help="auto: find faces and align them like the model's training faces (face models), else centre-crop; "
        "face: always; none: the image is already cropped like the training data.",
    ),
]
FaceOption = Annotated[
    int | None,
    typer.Option(
        "--face",
        min=1,
        help="Only this face, numbered from the left (see 'aaae faces PHOTO') \\[default: every face; "
        "the largest for single-image views].",
        show_default=False,
    ),
]


SeparateOption = Annotated[
    Path | None, typer.Option("--separate", help="Also write each image as its own PNG in this folder.")
]


def _load(
    model: str | None, device: str, crop: float | None = None, align: str = "auto", face: int | None = None
) -> Model:
    from aaae_cli.api import Model

    net = Model.load(model, device=device)
    if crop is not None:
        net.crop = crop
    net.align, net.face = align, face
    net.aligns_faces  # noqa: B018  (refuses a bad --align now, before any work)
    return net


def _said(message: str) -> None:
    err.print(message, highlight=False, soft_wrap=True)


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


# ---------------------------------------------------------------- sample


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
    zoom_by: Annotated[int, typer.Option("--zoom", min=1, max=16, help="Enlarge each image N times.")] = 1,
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
    net = _load(model, device)
    if grid_path is not None:
        check_grid_size(n, net.resolution * zoom_by, "samples")
    seed = secrets.randbelow(2**31) if seed is None else check_seed(seed)  # issue #13: -1 was a traceback
    kept: list[np.ndarray] = []
    width = len(str(n - 1))
    with ImageFolderWriter(separate) if separate else _nothing() as folder, progress(err, n, "sampling", 512) as step:
        index = 0
        for batch in net.iter_samples(n, seed=seed, temperature=temperature):
            batch = zoom(batch, zoom_by)
            if grid_path is not None:
                kept.append(batch)
            if folder is not None:
                for image in batch:
                    folder.add(image, f"sample-{index:0{width}d}.png")
                    index += 1
            step(len(batch))
        if grid_path is not None:
            images = np.concatenate(kept)
            # One sample is written as itself (no grid border), tagged so that aaae reads it back uncropped.
            single = len(images) == 1
            save_image(images[0] if single else make_grid(images, cols=cols), grid_path, framed=single)
    wrote = [str(p) for p in (grid_path, separate) if p is not None]
    _said(f"wrote {_e(' and '.join(wrote))}: {n} samples from {_e(net.name)} (seed {seed})")


class _nothing:
    """A ``with`` target standing in for a folder writer when there is no folder."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


# ---------------------------------------------------------------- reconstruct


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
    zoom_by: Annotated[int, typer.Option("--zoom", min=1, max=16, help="Enlarge each image N times.")] = 1,
    refine: Annotated[
        int,
        typer.Option(
            min=0,
            max=50,
            help="Refine each code for N Gauss-Newton steps through the decoder: closer to the photo, slower "
            "(about 0.4 s a face; 6 is a good choice). 0: the encoder's code as it is.",
        ),
    ] = 0,
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
    net = _load(model, device, crop, align, face)
    if grid_path is not None:
        check_grid_size(2 * len(files), net.resolution * zoom_by, "images and reconstructions")
    tiles: list[np.ndarray] = []
    step_size = net.batch_size
    with (
        ImageFolderWriter(separate) if separate else _nothing() as folder,
        progress(err, len(files), "reconstructing", 256) as step,
    ):
        for start in range(0, len(files), step_size):
            chunk = files[start : start + step_size]
            inputs = net.prepare_batch(chunk)
            recon = net.reconstruct(inputs, refine=refine)
            if grid_path is not None:
                tiles.append(zoom(np.stack([inputs, recon], 1).reshape(-1, *inputs.shape[1:]), zoom_by))
            if folder is not None:
                for path, image in zip(chunk, zoom(recon, zoom_by), strict=True):
                    folder.add(image, f"{path.stem}.png")
            step(len(chunk))
        if grid_path is not None:
            pairs = min(cols or 4, len(files))
            save_image(make_grid(np.concatenate(tiles), cols=2 * pairs), grid_path)
    wrote = [str(p) for p in (grid_path, separate) if p is not None]
    _said(f"wrote {_e(' and '.join(wrote))}: {len(files)} image(s) and their reconstructions by {_e(net.name)}")


# ---------------------------------------------------------------- interpolate


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
    zoom_by: Annotated[int, typer.Option("--zoom", min=1, max=16, help="Enlarge each image N times.")] = 1,
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
    net = _load(model, device, crop, align, face)
    if path.suffix.lower() != ".gif":  # a row that aaae could not read back (issue #13): refused up front
        check_grid_size(steps + 2 * with_inputs, net.resolution * zoom_by, "images in a row")
    ends = net.prepare_batch([a.expanduser(), b.expanduser()])  # read, and faces found, once
    frames = net.interpolate(ends[0], ends[1], steps)
    if with_inputs:
        frames = np.concatenate([ends[:1], frames, ends[1:]])
    frames = zoom(frames, zoom_by)
    if path.suffix.lower() == ".gif":
        write_gif(list(frames), path, duration_ms=duration)
    else:
        save_image(make_grid(frames, cols=len(frames)), path)
    _said(f"wrote {_e(str(path))}: {steps} steps from {_e(a.name)} to {_e(b.name)}")


# ---------------------------------------------------------------- attributes


def _attribute_source(source: dict) -> str:
    return f"{source.get('data', '?')} ({source.get('split', 'all')})" if source else "unknown data"


def attributes_list(
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the model's attribute directions and what they were computed from."""
    net = _load(model, "cpu")
    attrs = net.attributes
    if as_json:
        rows = [
            {
                "name": a.name,
                "positive": a.positive,
                "negative": a.negative,
                "scale": a.scale,
                "photo_scale": a.photo_scale,
                "separation": a.separation,
                "source": a.source,
            }
            for a in attrs.values()
        ]
        out.print_json(json.dumps(rows))
        return
    if not len(attrs):
        out.print(f"{_e(net.name)} has no attribute directions (add some with 'aaae attributes compute').")
        return
    wheres = {_attribute_source(a.source) for a in attrs.values()}
    shared = len(wheres) == 1
    title = f"{net.name}: {len(attrs)} attribute directions" + (f" from {next(iter(wheres))}" if shared else "")
    table = Table(title=_e(title), title_justify="left")
    columns = ("attribute", "with", "without", "scale", "calibrated", "photo scale", "separation") + (
        () if shared else ("from",)
    )
    for column in columns:
        left = column in ("attribute", "from")
        table.add_column(column, justify="left" if left else "right", no_wrap=column == "attribute")
    for a in attrs.values():
        calibration = a.source.get("calibration") or {}
        rate = f"{calibration['flip_rate']:.0%}" if "flip_rate" in calibration else "-"
        photo = f"{a.photo_scale:g}" if a.photo_scale is not None else "-"
        cells = [_e(a.name), str(a.positive), str(a.negative), f"{a.scale:g}", rate, photo, f"{a.separation:.2f}"]
        table.add_row(*cells, *(() if shared else (_e(_attribute_source(a.source)),)))
    out.print(table)
    if any("calibration" in a.source for a in attrs.values()):
        out.print(
            "calibrated: share of edited training images an attribute classifier read as having the attribute "
            "at strength 1 (see 'aaae attributes calibrate')"
        )
    out.print("separation: distance between the two groups along the direction, in pooled standard deviations")


def attributes_compute(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Images: a folder with a CelebA attribute file, a folder of class sub-folders (each class an "
            "attribute), or an MNIST idx file with its labels.",
            show_default=False,
        ),
    ],
    labels: Annotated[
        Path | None, typer.Option(help="CelebA-style attribute file (list_attr_celeba.txt).", show_default=False)
    ] = None,
    model: ModelOption = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write a copy of the bundle with the new directions here \\[default: update the --model folder].",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Drop the bundle's other directions.")] = False,
    min_count: Annotated[int, typer.Option(min=1, help="Skip attributes with fewer images on either side.")] = 10,
    workers: Annotated[int, typer.Option(min=1, help="Processes decoding images.")] = 2,
    device: DeviceOption = "auto",
) -> None:
    """Compute attribute directions with the model's encoder and write them into the bundle."""
    from aaae_cli.bundle_edit import compute_into_bundle

    net = _load(model, device)
    result = compute_into_bundle(
        net, data, labels, out_dir, replace=replace, min_count=min_count, workers=workers, console=err
    )
    if result.skipped:
        _said(f"[yellow]skipped[/] (fewer than {min_count} images on a side): {_e(', '.join(result.skipped))}")
    unreadable = (
        f" ({result.unreadable} unreadable file(s) or photos without a face skipped)" if result.unreadable else ""
    )
    _said(
        f"wrote {len(result.computed)} direction(s) from {result.images} images{unreadable} into "
        f"{_e(str(result.folder))}: {_e(', '.join(result.computed))}"
    )


# ---------------------------------------------------------------- info


def info(
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print config.json and the file list as JSON.")] = False,
) -> None:
    """What a model is: size, training data, metrics, attributes, files (checksums verified), evaluation."""
    from aaae_cli.runtime import available_devices

    net = _load(model, "cpu")
    sizes = net.bundle.verify_all()
    attrs = net.attributes
    if as_json:
        out.print_json(json.dumps({"path": str(net.path), "config": net.config, "files": sizes}))
        return
    cfg = net.config
    training = cfg.get("training") or {}
    data = training.get("data") or {}
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows = [
        ("model", f"{net.name}  ({net.bundle.source})"),
        ("folder", str(net.path)),
        ("images", f"{net.resolution}x{net.resolution}, {'RGB' if net.channels == 3 else 'grayscale'}"),
        ("preprocessing", f"centre crop {cfg['preprocessing']['crop']:g} of the shorter side, Lanczos resize"),
        ("noise / code", f"z {net.z_dim}, c {net.c_dim}"),
        (
            "trained on",
            f"{data.get('name', '?')} ({data.get('train_images', '?')} training, {data.get('val_images', '?')} held "
            f"out), {training.get('steps', '?')} + {training.get('approx_steps', '?')} steps",
        ),
    ]
    for key, value in (cfg.get("metrics") or {}).items():
        if not isinstance(value, dict):
            rows.append((key, f"{value:.5g}" if isinstance(value, float) else str(value)))
    names = list(attrs)
    rows.append(("attributes", f"{len(names)}: {', '.join(names)}" if names else "none"))
    total = sum(sizes.values())
    rows.append(("files", f"{len(sizes)} verified, {total / 1e6:.1f} MB: " + ", ".join(sizes)))
    exported = (cfg.get("export") or {}).get("date", "?")
    rows.append(("format", f"{cfg.get('format')} {cfg.get('format_version')}, exported {exported}"))
    rows.append(("devices here", ", ".join(available_devices())))
    for key, value in rows:
        table.add_row(key, _e(value))
    out.print(table)
    evaluation = ((cfg.get("card") or {}).get("evaluation") or {}).get("rows") or []
    if len(evaluation) > 1:  # a header row, then measures: what the model card says it was measured at
        measured = Table(title="evaluation (model card)", title_justify="left", box=None, pad_edge=False)
        for heading in evaluation[0][:2]:
            measured.add_column(_e(str(heading)), overflow="fold")
        for row in evaluation[1:]:
            measured.add_row(*(_e(str(cell)) for cell in row[:2]))
        out.print(measured)


# ---------------------------------------------------------------- export


def export(
    run: Annotated[Path, typer.Argument(help="Training run folder (or a checkpoint file).", show_default=False)],
    out_dir: Annotated[Path, typer.Argument(help="Bundle folder to write.", show_default=False)],
    checkpoint: Annotated[str, typer.Option(help="best (lowest validation error) or last.")] = "best",
    name: Annotated[
        str | None, typer.Option(help="Model name \\[default: the folder name].", show_default=False)
    ] = None,
    data_name: Annotated[
        str | None, typer.Option(help="Training data name for the model card \\[default: from the run].")
    ] = None,
    license: Annotated[str, typer.Option(help="Licence id for the model card (Hub metadata).")] = "mit",
    data: Annotated[
        list[Path] | None, typer.Option(help="Training data, if it moved since training.", show_default=False)
    ] = None,
    labels: Annotated[Path | None, typer.Option(help="Attribute file, with --data.", show_default=False)] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Decoded-dataset cache.", show_default=False)] = None,
    min_count: Annotated[int, typer.Option(min=1, help="Skip attributes with fewer images on either side.")] = 10,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT_DIR if it holds something.")] = False,
    device: Annotated[str, typer.Option(help="PyTorch device for encoding the data: auto, cpu or cuda.")] = "auto",
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            "--push-to-hub",
            help="Then upload the bundle to this Hugging Face Hub repo (user/name), as 'aaae push' does.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export a trained run to a bundle (ONNX graphs, attributes, model card), checked against PyTorch."""
    from aaae_cli.torch_side import torch_module

    if push_to_hub is not None:
        from aaae_cli.hub import check_push

        check_push(push_to_hub)  # a bad repo id or no token fails now, not after the export
    exporter = torch_module("export")
    result = exporter.export_run(
        run,
        out_dir,
        checkpoint=checkpoint,
        name=name,
        data_name=data_name,
        license=license,
        data=[str(p) for p in data] if data else None,
        labels=str(labels) if labels else None,
        cache_dir=str(cache_dir) if cache_dir else None,
        min_count=min_count,
        force=force,
        device=device,
        log=_said,
    )
    metrics = result.config["metrics"]
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in result.max_abs_diff.items())
    if result.skipped_attributes:
        _said(f"[yellow]skipped attributes[/]: {_e(', '.join(result.skipped_attributes))}")
    attrs = result.config.get("attributes") or {}
    _said(
        f"[bold green]exported[/] {_e(str(result.out))}: ONNX matches PyTorch (max |diff|: {diffs}); "
        f"held-out MSE {metrics['val_mse_onnx']:.5f}; {attrs.get('count', 0)} attribute directions",
    )
    if push_to_hub is not None:
        _push(result.out, push_to_hub)


# ---------------------------------------------------------------- push


def push(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder (from 'aaae export').", show_default=False)],
    repo_id: Annotated[
        str, typer.Argument(help="Hub repo to upload to: user/name or org/name, created if needed.", show_default=False)
    ],
    private: Annotated[bool, typer.Option("--private", help="Create the repo private (if it is new).")] = False,
    revision: Annotated[
        str | None,
        typer.Option(help="Branch to commit to, created if needed \\[default: main].", show_default=False),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="Hub token with write access \\[default: $HF_TOKEN, else the one saved by 'hf auth login'].",
            show_default=False,
        ),
    ] = None,
    message: Annotated[
        str | None, typer.Option(help="Commit message \\[default: Upload aaae model NAME].", show_default=False)
    ] = None,
) -> None:
    """Upload a bundle to a Hugging Face Hub model repo in one commit (checksums verified first)."""
    _push(bundle, repo_id, private=private, revision=revision, token=token, message=message)


def _push(bundle: Path, repo_id: str, **options: Any) -> None:
    from aaae_cli.hub import push_bundle

    result = push_bundle(bundle, repo_id, **options)
    _said(
        f"[bold green]pushed[/] {len(result.files)} files of {_e(str(bundle))} to {_e(result.repo_id)} "
        f"({_e(result.revision)}): {_e(result.commit_url or result.repo_url)}"
    )
    ref = result.repo_id + ("" if result.revision == "main" else f"@{result.revision}")
    _said(f"use it with: aaae sample --model {_e(ref)}")
