"""The model as a file: ``aaae info`` (what a bundle is), ``aaae export`` (a training run to a bundle) and
``aaae push`` (a bundle to the Hugging Face Hub).

``info`` runs on onnxruntime; ``export`` imports :mod:`aaae_train.export` (torch) only when it runs, through
:func:`aaae_cli.cli._torch.torch_module`; ``push`` needs only ``huggingface_hub``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aaae_cli.cli._options import MinCountOption, ModelOption, load_model, said
from aaae_cli.utils.progress import RichProgress, out
from aaae_cli.utils.terminal import shown as _e
from aaae_train.options import ExportSettings

_EXPORT = ExportSettings()  # the export options' defaults, said once there

commands = typer.Typer()  # registered on the app by aaae_cli.cli.app, in this order


@commands.command(
    epilog="Examples:\n\n  aaae info\n\n  aaae info --model user/faces@v1 --json",
)
def info(
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print config.json and the file list as JSON.")] = False,
) -> None:
    """What a model is: size, training data, metrics, attributes, files (checksums verified), evaluation."""
    from aaae_cli.bundle.card import framing
    from aaae_cli.runtime import available_devices

    net = load_model(model, "cpu")
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
        ("preprocessing", f"{framing(cfg['preprocessing'])}, Lanczos resize"),
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
    export = cfg.get("export") if isinstance(cfg.get("export"), dict) else {}
    moments = export.get("approximator_moments")
    matched = isinstance(moments, dict) and isinstance(moments.get("codes"), int)
    rows.append(
        (
            "sampler",
            f"approximator, its code mean and covariance matched to {moments['codes']} training codes at export"
            if matched
            else "approximator as trained",
        )
    )
    weights = " (fp16 weights)" if export.get("weights") == "fp16" else ""
    rows.append(
        ("format", f"{cfg.get('format')} {cfg.get('format_version')}, exported {export.get('date', '?')}{weights}")
    )
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


@commands.command(
    epilog="Examples:\n\n"
    "  aaae export runs/faces models/faces             # best.pt -> an ONNX bundle\n\n"
    "  aaae export runs/faces/last.pt out/ --force --data ~/celeba\n\n"
    "  aaae export runs/faces models/faces --weights fp16      # half the file size\n\n"
    "  aaae export runs/faces models/faces --push-to-hub user/faces   # and upload it",
)
def export(
    run: Annotated[Path, typer.Argument(help="Training run folder (or a checkpoint file).", show_default=False)],
    out_dir: Annotated[Path, typer.Argument(help="Bundle folder to write.", show_default=False)],
    checkpoint: Annotated[str, typer.Option(help="best (lowest validation error) or last.")] = _EXPORT.checkpoint,
    name: Annotated[
        str | None, typer.Option(help="Model name \\[default: the folder name].", show_default=False)
    ] = None,
    data_name: Annotated[
        str | None, typer.Option(help="Training data name for the model card \\[default: from the run].")
    ] = None,
    license: Annotated[str, typer.Option(help="Licence id for the model card (Hub metadata).")] = _EXPORT.license,
    data: Annotated[
        list[Path] | None, typer.Option(help="Training data, if it moved since training.", show_default=False)
    ] = None,
    labels: Annotated[Path | None, typer.Option(help="Attribute file, with --data.", show_default=False)] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Decoded-dataset cache.", show_default=False)] = None,
    min_count: MinCountOption = _EXPORT.min_count,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT_DIR if it holds something.")] = _EXPORT.force,
    device: Annotated[
        str, typer.Option(help="PyTorch device for encoding the data: auto, cpu or cuda.")
    ] = _EXPORT.device,
    match_moments: Annotated[
        bool,
        typer.Option(
            help="Fit the sampler's code mean and covariance to the training codes' (not in the paper; "
            "--no-match-moments exports the approximator as trained).",
        ),
    ] = _EXPORT.match_code_moments,
    weights: Annotated[
        str,
        typer.Option(
            help="fp32, or fp16: the graphs' weights stored in half precision (files half the size; computed in "
            "float32).",
        ),
    ] = _EXPORT.weights,
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
    from aaae_cli.cli._torch import torch_module

    if push_to_hub is not None:
        from aaae_cli.bundle.hub import check_push

        check_push(push_to_hub)  # a bad repo id or no token fails now, not after the export
    settings = ExportSettings(
        checkpoint=checkpoint,
        name=name,
        data_name=data_name,
        license=license,
        data=tuple(str(p) for p in data or ()),
        labels=str(labels) if labels else None,
        cache_dir=str(cache_dir) if cache_dir else None,
        device=device,
        min_count=min_count,
        force=force,
        match_code_moments=match_moments,
        weights=weights,
    )
    exporter = torch_module("export")
    with RichProgress() as progress:
        result = exporter.export_run(run, out_dir, settings, progress=progress)
    metrics = result.config["metrics"]
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in result.max_abs_diff.items())
    if result.skipped_attributes:
        said(f"[yellow]skipped attributes[/]: {_e(', '.join(result.skipped_attributes))}")
    attrs = result.config.get("attributes") or {}
    said(
        f"[bold green]exported[/] {_e(str(result.out))}: ONNX matches PyTorch (max |diff|: {diffs}); "
        f"held-out MSE {metrics['val_mse_onnx']:.5f}; {attrs.get('count', 0)} attribute directions",
    )
    if push_to_hub is not None:
        _push(result.out, push_to_hub)


# ---------------------------------------------------------------- push


@commands.command(
    epilog="Examples:\n\n"
    "  hf auth login                        # once, or set HF_TOKEN\n\n"
    "  aaae push models/faces user/faces    # then: --model user/faces\n\n"
    "  aaae push models/faces user/faces --revision v2 --private",
)
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
    from aaae_cli.bundle.hub import push_bundle

    result = push_bundle(bundle, repo_id, **options)
    said(
        f"[bold green]pushed[/] {len(result.files)} files of {_e(str(bundle))} to {_e(result.repo_id)} "
        f"({_e(result.revision)}): {_e(result.commit_url or result.repo_url)}"
    )
    ref = result.repo_id + ("" if result.revision == "main" else f"@{result.revision}")
    said(f"use it with: aaae sample --model {_e(ref)}")
