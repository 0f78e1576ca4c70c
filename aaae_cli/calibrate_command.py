"""``aaae attributes calibrate``: a thin typer wrapper over :func:`aaae_cli.calibrate.calibrate_into_bundle`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape as _e

from aaae_cli.commands import DeviceOption, ModelOption, _load, _said, err, out


def calibrate_command(
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
    from aaae_cli.calibrate import calibrate_into_bundle, calibration_summary

    net = _load(model, device)
    result = calibrate_into_bundle(
        net,
        data,
        labels,
        out_dir,
        evaluator=evaluator,
        names=attr,
        target=target,
        images=images,
        seed=seed,
        device=device,
        photos=photos,
        say=None if json_out else lambda line: err.print(_e(line), highlight=False),
    )
    if json_out:
        out.print_json(json.dumps(calibration_summary(result)))
        return
    missed = [c.name for c in result.attributes if not c.reached]
    if missed:
        _said(f"[yellow]target not reached[/] (the scale with the highest rate kept): {_e(', '.join(missed))}")
    _said(f"calibrated {len(result.attributes)} attribute(s) in {_e(str(result.folder))}")
