"""The bundle's ``README.md``: a Hugging Face Hub model card (YAML metadata, samples, usage, metrics).

Written from ``config.json`` and the attributes alone, by the one bundle writer (:mod:`aaae_cli.bundle.writer`),
so every command and script that writes a bundle produces the same card. YAML values are written as JSON
scalars, which YAML reads unchanged.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aaae_cli.bundle.attributes import AttributeSet
from aaae_cli.bundle.folder import SAMPLE

# Training data kinds with a Hub dataset id (CelebA has no official one; its terms are research-only).
HUB_DATASETS = {"mnist": "ylecun/mnist"}
TAGS = ("aaae", "autoencoder", "adversarially-approximated-autoencoder", "onnx", "image-generation")
DATA_TITLES = {"mnist": "MNIST", "celeba": "CelebA", "folder": "an image folder"}

CITATION = """@article{xu2019aaae,
  title   = {Adversarially Approximated Autoencoder for Image Generation and Manipulation},
  author  = {Xu, Wenju and Keshmiri, Shawn and Wang, Guanghui},
  journal = {IEEE Transactions on Multimedia},
  year    = {2019},
  note    = {arXiv:1902.05581}
}"""


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}" if math.isfinite(value) else str(value)
    return str(value)


def usage_reference(config: dict[str, Any]) -> str:
    """How the card's usage lines name the model: its Hub id, a built-in name (card note ``model_ref``), else
    the ``path/to/NAME`` placeholder (``aaae push`` points the last two at the repo)."""
    notes = config.get("card") or {}
    return str(config.get("hub_id") or notes.get("model_ref") or f"path/to/{config.get('name') or 'model'}")


def render_card(config: dict[str, Any], attributes: AttributeSet, sample_file: str | None = SAMPLE) -> str:
    """The model card text for a bundle."""
    name = str(config.get("name") or "model")
    res, ch = config["resolution"], config["channels"]
    training = config.get("training") or {}
    data = training.get("data") or {}
    kind = str(data.get("kind") or "")
    data_name = str(data.get("name") or kind or "unknown")
    metrics = config.get("metrics") or {}
    license_id = str(config.get("license") or "mit")
    notes = config.get("card") or {}
    model_ref = usage_reference(config)
    colour = "RGB" if ch == 3 else "grayscale"

    meta = ["---", "library_name: aaae", f"license: {_q(license_id)}"]
    if notes.get("license_name"):
        meta.append(f"license_name: {_q(notes['license_name'])}")
    meta.append("tags:")
    meta += [f"- {tag}" for tag in TAGS]
    meta.append("pipeline_tag: unconditional-image-generation")
    if kind in HUB_DATASETS:
        meta += ["datasets:", f"- {HUB_DATASETS[kind]}"]
    if "val_mse" in metrics:
        dataset_line = f"{DATA_TITLES.get(kind, data_name)} ({data.get('val_images', '?')} held-out images)"
        meta += [
            "metrics:",
            "- mse",
            "model-index:",
            f"- name: {_q(name)}",
            "  results:",
            "  - task:",
            "      type: image-to-image",
            "      name: Image reconstruction",
            "    dataset:",
            f"      name: {_q(dataset_line)}",
            f"      type: {_q(HUB_DATASETS.get(kind, data_name))}",
            "    metrics:",
            "    - type: mse",
            f"      value: {float(metrics['val_mse']):.6g}",
            '      name: "Validation reconstruction MSE (pixels in [0, 1])"',
        ]
    meta.append("---")

    out = [*meta, "", f"# {name}", ""]
    out.append(
        f"An **Adversarially Approximated Autoencoder** (AAAE; Xu, Keshmiri & Wang, "
        f"[arXiv 1902.05581](https://arxiv.org/abs/1902.05581)) for {res}x{res} {colour} images, trained on "
        f"{DATA_TITLES.get(kind, data_name)} (`{data_name}`). It samples new images, reconstructs, interpolates "
        "between and edits real ones. The bundle holds three ONNX graphs and runs on onnxruntime with the "
        "`aaae` command line (`pip install aaae`); no PyTorch needed."
    )
    if sample_file:
        out += ["", f"![Samples from the model]({sample_file})"]
    out += [
        "",
        "## Use it",
        "",
        "```bash",
        "pip install aaae",
        f"aaae sample --model {model_ref} -n 64 samples.png --seed 0",
        f"aaae reconstruct --model {model_ref} photo.jpg -o reconstruction.png",
        f"aaae interpolate --model {model_ref} a.jpg b.jpg --steps 8 -o morph.gif",
    ]
    if len(attributes):
        first = next(iter(attributes))
        out.append(f"aaae edit --model {model_ref} photo.jpg --attr {first} --sweep -2:2:5 -o edit.png")
    out += [
        "```",
        "",
        "```python",
        "import aaae_cli as aaae",
        "",
        f'model = aaae.load("{model_ref}")',
        "images = model.sample(16, seed=0)  # uint8 (16, H, W, C)",
        'codes = model.encode(["photo.jpg"])  # any size; prepared as the training data were',
        "```",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| images | {res}x{res}, {ch} channel(s), pixels in [-1, 1] for the graphs |",
        f"| preprocessing | {framing(config['preprocessing'])}, Lanczos resize, EXIF rotation applied, "
        "transparency on white |",
        f"| noise z / code c | {config['z_dim']} / {config['c_dim']} dimensions |",
    ]
    params = training.get("parameters") or {}
    for graph in ("encoder", "decoder", "approximator"):
        spec = (config.get("graphs") or {}).get(graph) or {}
        count = params.get(graph)
        shown = f"{count / 1e6:.2f}M parameters" if isinstance(count, (int, float)) else ""
        out.append(f"| `{spec.get('file', graph + '.onnx')}` | {graph}, {shown} |")
    out += ["", "## Training", ""]
    rows = [
        ("data", f"{data_name} ({data.get('train_images', '?')} training, {data.get('val_images', '?')} held out)"),
        ("schedule", training.get("schedule")),
        ("autoencoder steps", training.get("steps")),
        ("approximator steps", training.get("approx_steps")),
        ("weights", "exponential moving average" if training.get("ema") else "final weights"),
    ]
    out += ["| | |", "|---|---|", *[f"| {k} | {_fmt(v)} |" for k, v in rows if v is not None]]
    trained = notes.get("training") or {}
    if trained.get("command"):
        out += ["", "Trained with:", "", "```bash", str(trained["command"]), "```"]
    if trained.get("time"):
        out += ["", f"Training time: {trained['time']}."]
    if notes.get("data_terms"):
        out += ["", f"**Data terms.** {notes['data_terms']}"]
    if metrics:
        out += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        labels = {
            "val_mse": "validation reconstruction MSE, pixels in [0, 1] (training run)",
            "val_mse_onnx": "the same, measured on the exported ONNX graphs",
            "latent_fd": "Frechet distance, approximator codes vs. held-out image codes",
        }
        out += [f"| {labels.get(k, k)} | {_fmt(v)} |" for k, v in metrics.items() if not isinstance(v, dict)]
    evaluation = notes.get("evaluation") or {}
    if evaluation.get("rows"):
        out += ["", "## Evaluation", ""]
        if evaluation.get("text"):
            out += [str(evaluation["text"]), ""]
        header, *body = evaluation["rows"]
        out += ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in body]
        if evaluation.get("command"):
            out += ["", "Reproduce with:", "", "```bash", str(evaluation["command"]), "```"]
    if notes.get("observations"):
        out += ["", "## What the samples look like", ""]
        out += [f"- {line}" for line in notes["observations"]]
    if len(attributes):
        out += [
            "",
            "## Attribute directions",
            "",
            "Mean code of images with the attribute minus mean code of those without (the paper's edit). "
            "`--attr NAME` adds it, `--attr NAME=-1` removes it; `separation` is the distance between the two "
            "groups along the direction in pooled standard deviations.",
            "",
            "`scale` is how far strength 1 goes, in units of that difference (calibrated per attribute with "
            "`aaae attributes calibrate` where `calibrated` gives the share of edited training images an "
            "attribute classifier then read as having the attribute). `photo scale` is the same for edits of "
            "photos (`aaae edit me.jpg`: the model's change added to the photo), calibrated on the training "
            "photos with `aaae attributes calibrate --photos`; `photo calibrated` is its share.",
            "",
            "| attribute | with | without | separation | scale | calibrated | photo scale | photo calibrated |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for a in attributes.values():
            rate, photo_rate = (
                f"{c['flip_rate']:.0%}" if "flip_rate" in c else "-"
                for c in (a.source.get("calibration") or {}, a.source.get("photo_calibration") or {})
            )
            photo = f"{a.photo_scale:g}" if a.photo_scale is not None else "-"
            out.append(
                f"| {a.name} | {a.positive} | {a.negative} | {a.separation:.2f} | {a.scale:g} | {rate} | "
                f"{photo} | {photo_rate} |"
            )
    out += [
        "",
        "## Limitations",
        "",
        f"- Images are {res}x{res}: inputs are cropped and resized to that first, so fine detail is lost.",
        "- An edit can only be as good as the reconstruction it starts from; directions learned from labels "
        "carry the correlations of the training data (e.g. one attribute moving another).",
        "- Trained on a single dataset: images unlike it reconstruct poorly.",
        *[f"- {line}" for line in notes.get("limitations") or []],
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(out)


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
