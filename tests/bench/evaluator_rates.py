"""How well the face evaluator reads each attribute on the held-out faces (per-class rates, not accuracy).

Accuracy hides rare attributes (a classifier that never says "bald" is 99% accurate on CelebA), so this
prints, per attribute, the true-positive and true-negative rates on the model's held-out split at the
decision threshold 0.5 that eval and calibration use, and the ROC AUC (how well the classifier ranks
faces with the attribute above faces without it, whatever the threshold).

    python tests/bench/evaluator_rates.py [--model models/faces] [--data ../shared/data/celeba]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aaae_cli.api import load
from aaae_cli.evaluation.evaluate import Evaluator, load_eval_data

EDIT_TARGETS = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Mustache", "Bald")


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (len(pos) * len(neg)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/faces")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/celeba"))
    parser.add_argument("--evaluator", type=Path, default=Path("models/evaluator-faces"))
    parser.add_argument("--all", action="store_true", help="every attribute, not only the editing targets")
    args = parser.parse_args()

    model = load(args.model)
    data = load_eval_data(args.data, None, model, "val", 100_000, 0, 0)
    assert data.labels is not None, "the data has no attribute labels"
    judge = Evaluator(args.evaluator, "cpu")
    probs, _ = judge.run(data.held_out)
    print(f"{len(data.held_out)} held-out faces of {data.description}")
    print("| attribute | faces with it | TPR | TNR | balanced accuracy | AUC |\n|---|---|---|---|---|---|")
    for name in judge.classes if args.all else EDIT_TARGETS:
        has = data.labels[:, data.label_names.index(name)] > 0
        scores = probs[:, judge.classes.index(name)]
        says = scores >= 0.5
        tpr = (says & has).sum() / max(int(has.sum()), 1)
        tnr = (~says & ~has).sum() / max(int((~has).sum()), 1)
        balanced, auc = (tpr + tnr) / 2, roc_auc(scores, has)
        print(f"| {name} | {int(has.sum())} | {tpr:.3f} | {tnr:.3f} | {balanced:.3f} | {auc:.3f} |")


if __name__ == "__main__":
    main()
