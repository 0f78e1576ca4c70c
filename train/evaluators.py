"""Evaluator classifiers that ``aaae eval`` measures sample quality and edits with.

The standard Inception-v3 FID weights cannot be downloaded everywhere, so the project trains its own
small classifiers and ships them as ONNX files: a digit classifier (MNIST, 10 classes) and a CelebA
40-attribute classifier. Each ONNX graph maps images (N, C, R, R) in [-1, 1] to ``logits`` and to
``features`` (the penultimate layer), in which a Frechet distance between real and generated images
is computed. That distance is *not* FID and is never called FID.

    aaae evaluator train digits ../shared/data/mnist --out models/evaluator-digits
    aaae evaluator train attributes ../shared/data/celeba --out models/evaluator-faces \
        --key-prefix images/ --balanced

(models/BUILD.md has the exact commands of the shipped evaluators; ``python -m aaae_train.evaluators`` still takes
the same arguments.)

Both train on the training split only (the hash split of :mod:`aaae_cli.data.sources`), and report their
accuracy on the held-out split, which is stored in the evaluator's ``evaluator.json``.

``--balanced`` (attributes only) weighs each attribute's positives by its negatives-to-positives ratio
in the training split, so that a logit of 0 (probability 0.5) sits where a rare attribute is as likely
to be missed as a common "no" is to be mistaken. Without it, rare attributes (Mustache, Bald: 2-4% of
CelebA) are ranked well but almost never called "yes", which makes edit flip rates unmeasurable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aaae_cli.data.sources import detect_source, held_out
from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import atomic_write_text
from aaae_cli.utils.checks import check_seed
from aaae_train.data import Preprocessing, default_cache_dir, load_dataset
from aaae_train.snapshots import to_model_input

VAL_FRACTION = 0.05  # the same held-out split as ``aaae train``'s default


class Classifier(nn.Module):
    """Small VGG-style CNN: 3x3 convs with BN, stride-2 downsampling, global average pooling."""

    def __init__(self, channels: int, classes: int, widths: tuple[int, ...], features: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = channels
        for i, width in enumerate(widths):
            layers += [
                nn.Conv2d(in_ch, width, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            in_ch = width
        self.convs = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Linear(in_ch, features), nn.ReLU(inplace=True))
        self.head = nn.Linear(features, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.embed(self.convs(x).mean((2, 3)))
        return self.head(features), features


@dataclass(frozen=True)
class Task:
    name: str
    resolution: int
    channels: int
    crop: float
    widths: tuple[int, ...]
    features: int
    epochs: int
    multilabel: bool


TASKS = {
    "digits": Task("digits", 32, 1, 1.0, (32, 64, 128), 128, 6, multilabel=False),
    "attributes": Task("attributes", 64, 3, round(140 / 178, 6), (32, 64, 128, 256), 256, 12, multilabel=True),
}


def task_for(name: str, epochs: int | None = None, widths: str | None = None) -> Task:
    """The evaluator task ``name`` (``digits`` or ``attributes``), with its epochs or its conv stages' widths
    (``"32,64,128"``) changed when given; a bad value is a one-line :class:`UserError`."""
    if name not in TASKS:
        raise UserError(f"{name!r}: no such evaluator task; use {' or '.join(sorted(TASKS))}")
    task = TASKS[name]
    if epochs is not None:
        if epochs < 1:
            raise UserError(f"--epochs must be at least 1 (got {epochs})")
        task = replace(task, epochs=epochs)
    if widths:
        try:
            stages = tuple(int(w) for w in widths.split(","))
        except ValueError:
            stages = ()
        if not stages or min(stages) < 1:
            raise UserError(f"--widths {widths}: give channel counts, comma-separated (e.g. 32,64,128)")
        task = replace(task, widths=stages)
    return task


def _targets(labels: np.ndarray, multilabel: bool) -> torch.Tensor:
    if multilabel:
        return torch.from_numpy((labels > 0).astype(np.float32))
    return torch.from_numpy(labels.argmax(1).astype(np.int64))


def positive_weights(targets: torch.Tensor, limit: float = 100.0) -> torch.Tensor:
    """Per attribute, negatives / positives among ``targets`` (N, A) in {0, 1}; 1 where a class has
    no positives or no negatives, and at most ``limit``."""
    positives = targets.sum(0)
    negatives = len(targets) - positives
    ratio = negatives / positives.clamp(min=1)
    return torch.where((positives > 0) & (negatives > 0), ratio.clamp(max=limit), torch.ones_like(ratio))


def _augment(x: torch.Tensor, generator: torch.Generator, flip: bool) -> torch.Tensor:
    """Random shifts of up to 2 pixels (and horizontal flips for faces)."""
    pad = F.pad(x, (2, 2, 2, 2), mode="replicate")
    dy, dx = torch.randint(0, 5, (2,), generator=generator).tolist()
    x = pad[:, :, dy : dy + x.shape[2], dx : dx + x.shape[3]]
    if flip and torch.rand((), generator=generator) < 0.5:
        x = x.flip(3)
    return x


def train_evaluator(
    task: Task,
    data: str,
    out: Path,
    batch_size: int = 128,
    seed: int = 0,
    cache_dir: Path | None = None,
    key_prefix: str = "",
    balanced: bool = False,
) -> dict:
    """Train one evaluator, export it to ``out/evaluator.onnx`` and write ``out/evaluator.json``.

    ``key_prefix`` is put before each image's key for the hash split, so that the evaluator holds out
    exactly the images a model trained on several folders held out (``aaae train`` names an image
    ``FOLDER/FILE`` then): ``"images/"`` for a model trained on ``celeba/images`` plus another folder.
    ``balanced`` weighs rare attributes' positives up (multi-label tasks only; see the module docstring).
    """
    if balanced and not task.multilabel:
        raise UserError("--balanced applies to multi-label (attribute) evaluators only")
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1 (got {batch_size})")
    check_seed(seed)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a folder for evaluator.onnx and evaluator.json")
    torch.manual_seed(seed)
    source = detect_source(data)
    prep = Preprocessing(task.resolution, task.channels, task.crop)
    dataset = load_dataset([source], prep, cache_dir or default_cache_dir())
    if dataset.labels is None:
        raise UserError(f"{data}: no labels found (MNIST labels file or list_attr_celeba.txt)")
    labelled = np.flatnonzero((dataset.labels != 0).any(1))
    is_val = held_out([key_prefix + key for key in dataset.keys], VAL_FRACTION)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    train_idx, val_idx = np.intersect1d(train_idx, labelled), np.intersect1d(val_idx, labelled)
    if len(train_idx) < batch_size:
        raise UserError(f"{data}: {len(train_idx)} labelled training images, fewer than one batch (--batch-size)")
    images = torch.from_numpy(np.array(dataset.images))
    targets = _targets(dataset.labels, task.multilabel)
    pos_weight = positive_weights(targets[torch.from_numpy(train_idx)]) if balanced else None
    model = Classifier(task.channels, len(dataset.attributes), task.widths, task.features)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = task.epochs * (len(train_idx) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    device = torch.device("cpu")
    start = time.perf_counter()
    for epoch in range(task.epochs):
        model.train()
        order = torch.from_numpy(train_idx)[torch.randperm(len(train_idx), generator=generator)]
        for b in range(len(order) // batch_size):
            index = order[b * batch_size : (b + 1) * batch_size]
            x = _augment(to_model_input(images[index], device), generator, flip=task.multilabel)
            logits, _ = model(x)
            y = targets[index]
            loss = (
                F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
                if task.multilabel
                else F.cross_entropy(logits, y)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        accuracy = evaluate_accuracy(model, images, targets, val_idx, task.multilabel)
        print(
            json.dumps({"epoch": epoch + 1, "loss": round(loss.item(), 4), "held_out_accuracy": accuracy}), flush=True
        )
    minutes = (time.perf_counter() - start) / 60
    out.mkdir(parents=True, exist_ok=True)
    export_classifier(model, task, out / "evaluator.onnx")
    per_class = evaluate_accuracy(model, images, targets, val_idx, task.multilabel, per_class=True)
    card = {
        "format": "aaae-evaluator",
        "version": 1,
        "task": task.name,
        "kind": "multilabel" if task.multilabel else "multiclass",
        "classes": dataset.attributes,
        "preprocessing": {
            "resolution": task.resolution,
            "channels": task.channels,
            "crop": task.crop,
            "pixel_range": [-1.0, 1.0],
        },
        "feature_dim": task.features,
        "outputs": {"logits": "logits", "features": "features"},
        "training": {
            "data": Path(data).name,
            "train_images": len(train_idx),
            "epochs": task.epochs,
            "cpu_minutes": round(minutes, 1),
            "seed": seed,
            "class_balanced": balanced,
        },
        "held_out": {
            "images": len(val_idx),
            "split": f"hash split, fraction {VAL_FRACTION}" + (f", keys prefixed {key_prefix!r}" if key_prefix else ""),
            "accuracy": per_class["mean"],
            "per_class_accuracy": per_class["per_class"],
            "per_class_tpr": per_class["tpr"],
            "per_class_tnr": per_class["tnr"],
        },
    }
    atomic_write_text(out / "evaluator.json", json.dumps(card, indent=2) + "\n")
    return card


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    indices: np.ndarray,
    multilabel: bool,
    per_class: bool = False,
) -> float | dict:
    model.eval()
    correct = []
    for start in range(0, len(indices), 500):
        index = torch.from_numpy(indices[start : start + 500])
        logits, _ = model(to_model_input(images[index], torch.device("cpu")))
        y = targets[index]
        correct.append(((logits > 0).float() == y) if multilabel else (logits.argmax(1) == y)[:, None])
    hits = torch.cat(correct).float()
    mean = round(float(hits.mean()), 4)
    if not per_class:
        return mean
    if not multilabel:
        return {"mean": mean, "per_class": None, "tpr": None, "tnr": None}
    y = targets[torch.from_numpy(indices)]
    positives, negatives = y.sum(0), (1 - y).sum(0)

    def rate(hit: torch.Tensor, count: torch.Tensor) -> list[float | None]:
        return [round(float(h / c), 4) if c > 0 else None for h, c in zip(hit, count, strict=True)]

    return {
        "mean": mean,
        "per_class": [round(float(v), 4) for v in hits.mean(0)],
        "tpr": rate((hits * y).sum(0), positives),
        "tnr": rate((hits * (1 - y)).sum(0), negatives),
    }


def export_classifier(model: nn.Module, task: Task, path: Path) -> None:
    """ONNX graph: images -> (logits, features), dynamic batch, checked against PyTorch."""
    import onnxruntime

    from aaae_train.export import without_source_paths

    model.eval()
    example = torch.rand(4, task.channels, task.resolution, task.resolution) * 2 - 1
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        input_names=["images"],
        output_names=["logits", "features"],
        dynamic_shapes={"x": {0: batch}},
        external_data=False,
        opset_version=20,
    )
    program.save(str(path), external_data=False)
    without_source_paths(path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, features = session.run(None, {"images": example.numpy()})
    with torch.no_grad():
        ref_logits, ref_features = model(example)
    worst = max(float(np.abs(logits - ref_logits.numpy()).max()), float(np.abs(features - ref_features.numpy()).max()))
    if worst > 1e-3:
        raise RuntimeError(f"ONNX evaluator differs from PyTorch by {worst}")


def main(argv: list[str] | None = None) -> int:
    """``python -m aaae_train.evaluators``: ``aaae evaluator train`` under its old name (the same arguments; one
    ``error:`` line and exit code 2 on bad input)."""
    parser = argparse.ArgumentParser(
        prog="python -m aaae_train.evaluators",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("data")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--balanced", action="store_true", help="weigh rare attributes' positives up (attributes task only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (a second, independent judge: another seed)")
    parser.add_argument(
        "--widths",
        help="channels of the conv stages, comma-separated [default: the task's, e.g. 32,64,128,256 for attributes]",
    )
    parser.add_argument(
        "--key-prefix",
        default="",
        help="hold out what a model trained on several folders held out: 'images/' for celeba/images + another",
    )
    args = parser.parse_args(argv)
    try:
        task = task_for(args.task, args.epochs, args.widths)
        card = train_evaluator(
            task,
            args.data,
            args.out,
            batch_size=args.batch_size,
            seed=args.seed,
            key_prefix=args.key_prefix,
            balanced=args.balanced,
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(card["held_out"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
