"""How well the face evaluator reads each attribute on the held-out faces (per-class rates, not accuracy).

Accuracy hides rare attributes (a classifier that never says "bald" is 99% accurate on CelebA), so this
prints, per attribute, the true-positive and true-negative rates on the model's held-out split.

    python tests/bench/evaluator_rates.py [--model models/faces] [--data ../shared/data/celeba]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aaae_cli.api import load
from aaae_cli.evaluate import Evaluator, load_eval_data

EDIT_TARGETS = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Mustache", "Bald")


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
    print("| attribute | faces with it | TPR | TNR | balanced accuracy |\n|---|---|---|---|---|")
    for name in judge.classes if args.all else EDIT_TARGETS:
        has = data.labels[:, data.label_names.index(name)] > 0
        says = probs[:, judge.classes.index(name)] >= 0.5
        tpr = (says & has).sum() / max(int(has.sum()), 1)
        tnr = (~says & ~has).sum() / max(int((~has).sum()), 1)
        print(f"| {name} | {int(has.sum())} | {tpr:.3f} | {tnr:.3f} | {(tpr + tnr) / 2:.3f} |")


if __name__ == "__main__":
    main()
