"""The bundle's ``README.md``: a Hugging Face Hub model card (YAML metadata, samples, usage, metrics).

Written from ``config.json`` and the attributes alone, by the one bundle writer (:mod:`aaae_cli.bundle.writer`),
so every command and script that writes a bundle produces the same card. Two parts:

- the metadata (license, tags, datasets, and the held-out reconstruction error as a ``model-index`` result) is
  ``huggingface_hub``'s :class:`~huggingface_hub.ModelCardData` with an :class:`~huggingface_hub.EvalResult`, so the
  Hub reads it as it reads every card (:func:`card_data`);
- the text is the Markdown template ``card_template.md`` beside this module, a :class:`string.Template` filled with
  the bundle's facts (:func:`render_card`). A section the bundle has nothing for is a placeholder alone on its
  line, left out with its blank line (:func:`fill`).

``huggingface_hub`` is imported only when a card is written, so reading a bundle stays light.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any

from aaae_cli.bundle.attributes import AttributeSet
from aaae_cli.bundle.folder import SAMPLE

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

TEMPLATE = "card_template.md"
# Training data kinds with a Hub dataset id (CelebA has no official one; its terms are research-only).
HUB_DATASETS = {"mnist": "ylecun/mnist"}
TAGS = ("aaae", "autoencoder", "adversarially-approximated-autoencoder", "onnx", "image-generation")
DATA_TITLES = {"mnist": "MNIST", "celeba": "CelebA", "folder": "an image folder"}
METRIC_LABELS = {
    "val_mse": "validation reconstruction MSE, pixels in [0, 1] (training run)",
    "val_mse_onnx": "the same, measured on the exported ONNX graphs",
    "latent_fd": "Frechet distance, approximator codes vs. held-out image codes",
}
ATTRIBUTES_INTRO = (
    "Mean code of images with the attribute minus mean code of those without (the paper's edit). "
    "`--attr NAME` adds it, `--attr NAME=-1` removes it; `separation` is the distance between the two "
    "groups along the direction in pooled standard deviations.",
    "`scale` is how far strength 1 goes, in units of that difference (calibrated per attribute with "
    "`aaae attributes calibrate` where `calibrated` gives the share of edited training images an "
    "attribute classifier then read as having the attribute). `photo scale` is the same for edits of "
    "photos (`aaae edit me.jpg`: the model's change added to the photo), calibrated with "
    "`aaae attributes calibrate --photos` or chosen by looking; `photo calibrated` is the share a "
    "classifier read (`-` where the scale was not calibrated that way).",
)

CITATION = """@article{xu2019aaae,
  title   = {Adversarially Approximated Autoencoder for Image Generation and Manipulation},
  author  = {Xu, Wenju and Keshmiri, Shawn and Wang, Guanghui},
  journal = {IEEE Transactions on Multimedia},
  year    = {2019},
  note    = {arXiv:1902.05581}
}"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}" if math.isfinite(value) else str(value)
    return str(value)


def _table(header: list[Any], rows: list[list[Any]]) -> list[str]:
    """A Markdown table's lines (values through :func:`_fmt`)."""
    return [
        "| " + " | ".join(map(str, header)) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows),
    ]


def _section(title: str, *lines: str) -> str:
    return "\n".join([f"## {title}", "", *lines])


def _bash(command: Any) -> str:
    return f"```bash\n{command}\n```"


def usage_reference(config: dict[str, Any]) -> str:
    """How the card's usage lines name the model: its Hub id, a built-in name (card note ``model_ref``), else
    the ``path/to/NAME`` placeholder (``aaae push`` points the last two at the repo)."""
    notes = config.get("card") or {}
    return str(config.get("hub_id") or notes.get("model_ref") or f"path/to/{config.get('name') or 'model'}")


def card_data(config: dict[str, Any]) -> ModelCardData:
    """The card's metadata: library, license, tags, the Hub dataset when there is one, and the held-out
    reconstruction MSE of the training run as the ``model-index`` result (when it was measured)."""
    from huggingface_hub import EvalResult, ModelCardData

    data = (config.get("training") or {}).get("data") or {}
    kind = str(data.get("kind") or "")
    data_name = str(data.get("name") or kind or "unknown")
    metrics = config.get("metrics") or {}
    notes = config.get("card") or {}
    results = None
    if "val_mse" in metrics:
        held_out = f"{DATA_TITLES.get(kind, data_name)} ({data.get('val_images', '?')} held-out images)"
        result = EvalResult(
            task_type="image-to-image",
            task_name="Image reconstruction",
            dataset_type=HUB_DATASETS.get(kind, data_name),
            dataset_name=held_out,
            metric_type="mse",
            metric_value=float(f"{float(metrics['val_mse']):.6g}"),
            metric_name="Validation reconstruction MSE (pixels in [0, 1])",
        )
        results = [result]
    return ModelCardData(
        library_name="aaae",
        license=str(config.get("license") or "mit"),
        license_name=str(notes["license_name"]) if notes.get("license_name") else None,
        tags=list(TAGS),
        pipeline_tag="unconditional-image-generation",
        datasets=[HUB_DATASETS[kind]] if kind in HUB_DATASETS else None,
        metrics=["mse"] if results else None,
        model_name=str(config.get("name") or "model") if results else None,
        eval_results=results,
    )


def render_card(config: dict[str, Any], attributes: AttributeSet, sample_file: str | None = SAMPLE) -> str:
    """The model card text for a bundle: :func:`card_data`'s metadata over the Markdown template, filled in."""
    res, channels = config["resolution"], config["channels"]
    data = (config.get("training") or {}).get("data") or {}
    kind = str(data.get("kind") or "")
    data_name = str(data.get("name") or kind or "unknown")
    notes = config.get("card") or {}
    model_ref = usage_reference(config)
    trained = notes.get("training") or {}
    values = {
        "metadata": card_data(config).to_yaml(),
        "name": str(config.get("name") or "model"),
        "resolution": str(res),
        "channels": str(channels),
        "colour": "RGB" if channels == 3 else "grayscale",
        "data_title": DATA_TITLES.get(kind, data_name),
        "data_name": data_name,
        "samples": f"![Samples from the model]({sample_file})" if sample_file else "",
        "model_ref": model_ref,
        "edit_command": _edit_command(model_ref, attributes),
        "framing": framing(config["preprocessing"]),
        "z_dim": str(config["z_dim"]),
        "c_dim": str(config["c_dim"]),
        "graph_rows": "\n".join(_graph_rows(config)),
        "training_rows": "\n".join(_training_rows(config, data_name)),
        "trained_with": f"Trained with:\n\n{_bash(trained['command'])}" if trained.get("command") else "",
        "training_time": f"Training time: {trained['time']}." if trained.get("time") else "",
        "data_terms": f"**Data terms.** {notes['data_terms']}" if notes.get("data_terms") else "",
        "metrics": _metrics(config.get("metrics") or {}),
        "evaluation": _evaluation(notes.get("evaluation") or {}),
        "observations": _bullets("What the samples look like", notes.get("observations")),
        "attribute_directions": _attribute_directions(attributes),
        "more_limitations": "\n".join(f"- {line}" for line in notes.get("limitations") or []),
        "citation": CITATION,
    }
    return fill(resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8"), values)


_ALONE = re.compile(r"\$\{(\w+)\}")


def fill(template: str, values: dict[str, str]) -> str:
    """``template`` with its ``${name}`` placeholders replaced by ``values``; a placeholder alone on its line with
    nothing to say is left out, and with it the blank line before it when it stood as a paragraph of its own."""
    lines = template.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        alone = _ALONE.fullmatch(line)
        if alone and not values[alone[1]]:
            if kept and kept[-1] == "" and (i + 1 == len(lines) or lines[i + 1] == ""):
                kept.pop()
            continue
        kept.append(line)
    return Template("\n".join(kept)).substitute(values)


def _edit_command(model_ref: str, attributes: AttributeSet) -> str:
    """The usage line that edits along the first attribute (none for a model without attributes)."""
    if not len(attributes):
        return ""
    first = next(iter(attributes))
    return f"aaae edit --model {model_ref} photo.jpg --attr {first} --sweep -2:2:5 -o edit.png"


def _graph_rows(config: dict[str, Any]) -> list[str]:
    """One row per ONNX graph: its file and its parameter count (when the training recorded it)."""
    params = (config.get("training") or {}).get("parameters") or {}
    rows = []
    for graph in ("encoder", "decoder", "approximator"):
        spec = (config.get("graphs") or {}).get(graph) or {}
        count = params.get(graph)
        shown = f"{count / 1e6:.2f}M parameters" if isinstance(count, (int, float)) else ""
        rows.append(f"| `{spec.get('file', graph + '.onnx')}` | {graph}, {shown} |")
    return rows


def _training_rows(config: dict[str, Any], data_name: str) -> list[str]:
    """The training table's rows: data, schedule, steps and weights (those the run recorded)."""
    training = config.get("training") or {}
    data = training.get("data") or {}
    rows = [
        ("data", f"{data_name} ({data.get('train_images', '?')} training, {data.get('val_images', '?')} held out)"),
        ("schedule", training.get("schedule")),
        ("autoencoder steps", training.get("steps")),
        ("approximator steps", training.get("approx_steps")),
        ("weights", "exponential moving average" if training.get("ema") else "final weights"),
    ]
    return [f"| {k} | {_fmt(v)} |" for k, v in rows if v is not None]


def _metrics(metrics: dict[str, Any]) -> str:
    """The Metrics section: each measured number (nested reports are left to the Evaluation section)."""
    if not metrics:
        return ""
    rows = [[METRIC_LABELS.get(k, k), v] for k, v in metrics.items() if not isinstance(v, dict)]
    return _section("Metrics", *_table(["metric", "value"], rows))


def _evaluation(evaluation: dict[str, Any]) -> str:
    """The Evaluation section (card notes): its text, its table and the command that reproduces it."""
    if not evaluation.get("rows"):
        return ""
    header, *body = evaluation["rows"]
    lines = [str(evaluation["text"]), ""] if evaluation.get("text") else []
    lines += _table(header, body)
    if evaluation.get("command"):
        lines += ["", "Reproduce with:", "", _bash(evaluation["command"])]
    return _section("Evaluation", *lines)


def _bullets(title: str, lines: list[Any] | None) -> str:
    return _section(title, *(f"- {line}" for line in lines)) if lines else ""


def _attribute_directions(attributes: AttributeSet) -> str:
    """The Attribute directions section: how each direction was made and calibrated, one row each."""
    if not len(attributes):
        return ""
    header = ["attribute", "with", "without", "separation", "scale", "calibrated", "photo scale", "photo calibrated"]
    rows = []
    for a in attributes.values():
        rate, photo_rate = (
            f"{c['flip_rate']:.0%}" if "flip_rate" in c else "-"
            for c in (a.source.get("calibration") or {}, a.source.get("photo_calibration") or {})
        )
        photo = f"{a.photo_scale:g}" if a.photo_scale is not None else "-"
        rows.append(
            f"| {a.name} | {a.positive} | {a.negative} | {a.separation:.2f} | {a.scale:g} | {rate} | {photo} | "
            f"{photo_rate} |"
        )
    table = _table(header, [])
    return _section("Attribute directions", ATTRIBUTES_INTRO[0], "", ATTRIBUTES_INTRO[1], "", *table, *rows)


def framing(preprocessing: dict) -> str:
    """How the model frames a photo, in words: the face aligned to its landmark template, or a centre crop."""
    landmarks = preprocessing.get("landmarks")
    if isinstance(landmarks, dict) and "training" in landmarks:
        return "the face found (MTCNN) and aligned to the 5-point landmark template its training faces were aligned to"
    if isinstance(landmarks, dict):
        return (
            f"faces found (MTCNN) and aligned to the 5-point landmark template (else a centre square crop of "
            f"{_fmt(preprocessing['crop'])} of the shorter side)"
        )
    return f"centre square crop of {_fmt(preprocessing['crop'])} of the shorter side"
