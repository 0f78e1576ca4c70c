"""``aaae attributes list``, ``compute`` and ``calibrate``: the attribute directions (smiling, male, digit_3,
...) that ``aaae edit`` moves along.

Thin wrappers over :mod:`aaae_cli.bundle.attributes` (what a bundle holds),
:func:`aaae_cli.evaluation.directions.compute_into_bundle` and
:func:`aaae_cli.evaluation.calibrate.calibrate_into_bundle`, imported when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aaae_cli.cli._options import DeviceOption, MinCountOption, ModelOption, command_group, load_model, said
from aaae_cli.utils.progress import RichProgress, out
from aaae_cli.utils.terminal import shown as _e

app = command_group("Attribute directions (smiling, male, digit_3, ...) used by 'aaae edit'.")


def _attribute_source(source: dict) -> str:
    return f"{source.get('data', '?')} ({source.get('split', 'all')})" if source else "unknown data"


@app.command(
    "list",
    epilog="Examples:\n\n  aaae attributes list\n\n  aaae attributes list --model ./my-bundle --json",
)
def attributes_list(
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the model's attribute directions and what they were computed from."""
    net = load_model(model, "cpu")
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


@app.command(
    "compute",
    epilog="Examples:\n\n"
    "  aaae attributes compute --model ./faces --data celeba/ --labels list_attr_celeba.txt\n\n"
    "  aaae attributes compute --model ./digits --data by-class/        # one sub-folder per class\n\n"
    "  aaae attributes compute --model user/faces --data mine/ --out ./faces-plus",
)
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
    min_count: MinCountOption = 10,
    workers: Annotated[int, typer.Option(min=1, help="Processes decoding images.")] = 2,
    device: DeviceOption = "auto",
) -> None:
    """Compute attribute directions with the model's encoder and write them into the bundle."""
    from aaae_cli.evaluation.directions import compute_into_bundle

    net = load_model(model, device)
    result = compute_into_bundle(
        net, data, labels, out_dir, replace=replace, min_count=min_count, workers=workers, progress=RichProgress()
    )
    if result.skipped:
        said(f"[yellow]skipped[/] (fewer than {min_count} images on a side): {_e(', '.join(result.skipped))}")
    unreadable = (
        f" ({result.unreadable} unreadable file(s) or photos without a face skipped)" if result.unreadable else ""
    )
    said(
        f"wrote {len(result.computed)} direction(s) from {result.images} images{unreadable} into "
        f"{_e(str(result.folder))}: {_e(', '.join(result.computed))}"
    )


@app.command(
    "calibrate",
    epilog="Examples:\n\n"
    "  aaae attributes calibrate --model ./faces --data celeba/            # every attribute, 80% target\n\n"
    "  aaae attributes calibrate --model ./faces --data celeba/ --attr Male --attr Smiling --target 0.9",
)
def attributes_calibrate(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Images the model was trained on (their training split is used).", show_default=False
        ),
    ],
    labels: Annotated[
        Path | None, typer.Option(help="CelebA attribute file, if not inside --data.", show_default=False)
    ] = None,
    model: ModelOption = None,
    attr: Annotated[
        list[str] | None, typer.Option("--attr", help="Calibrate only these attributes \\[default: all].")
    ] = None,
    target: Annotated[
        float, typer.Option(help="Share of edited images the evaluator must read as having the attribute.")
    ] = 0.8,
    images: Annotated[int, typer.Option(min=1, help="Images edited per attribute and scale.")] = 200,
    evaluator: Annotated[
        str | None,
        typer.Option(help="Attribute classifier: folder or built-in name \\[default: the one matching the model]."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write a copy of the bundle here \\[default: update the --model folder].",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for picking images.")] = 0,
    photos: Annotated[
        bool,
        typer.Option(
            "--photos",
            help="Calibrate the strengths of photo edits ('aaae edit' on a photo: the model's change added to "
            "the photo) on the training photos, instead of edits of the model's own images.",
        ),
    ] = False,
    device: DeviceOption = "auto",
) -> None:
    """Give each attribute its own edit strength, measured with an attribute classifier on training images."""
    from aaae_cli.evaluation.calibrate import CalibrationSettings, calibrate_into_bundle, calibration_summary

    net = load_model(model, device)
    settings = CalibrationSettings(
        names=tuple(attr or ()),
        target=target,
        images=images,
        evaluator=evaluator,
        seed=seed,
        device=device,
        photos=photos,
    )
    progress = None if json_out else RichProgress()
    result = calibrate_into_bundle(net, data, settings, labels=labels, out=out_dir, progress=progress)
    if json_out:
        out.print_json(json.dumps(calibration_summary(result)))
        return
    missed = [c.name for c in result.attributes if not c.reached]
    if missed:
        said(f"[yellow]target not reached[/] (the scale with the highest rate kept): {_e(', '.join(missed))}")
    said(f"calibrated {len(result.attributes)} attribute(s) in {_e(str(result.folder))}")
