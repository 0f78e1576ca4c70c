"""Write the model-card notes of the built-in ``digits`` model from measured reports (``faces``:
scripts/write_faces_card_notes.py).

The numbers come from the ``aaae eval --json`` report named below (see models/BUILD.md for the whole recipe);
the observations were written after opening the sample grids. The card keeps only the model's own headline figures;
how its sampler compares with the paper's plain approximator is measured once, in BENCHMARKS.md ("The
approximator"), which the card names.

    python scripts/write_card_notes.py runs/eval/digits.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aaae_cli.bundle.writer import set_card_notes
from aaae_train.checkpoint import load_checkpoint

BENCHMARKS = "BENCHMARKS.md in the aaae repository"
digits = json.loads(Path(sys.argv[1]).read_text())
held_digits = f"{digits['held_out_images']:,}"


def f(value: float, digits_after_point: int = 3) -> str:
    return f"{value:.{digits_after_point}f}"


ds = digits["samples"]

digit_rows = [
    [f"measure ({held_digits} held-out MNIST training digits)", "value", "target", "paper, Table I"],
    ["reconstruction MSE, pixels in [0, 1]", f(digits["reconstruction"]["mse_01"], 5), "<= 0.003", "0.011"],
    ["classifier IS: approximator samples", f(ds["approximator"]["evaluator_is"]), ">= 9.5", "-"],
    ["classifier IS: real held-out digits (the ceiling)", f(digits["real_evaluator_is"]), "-", "-"],
    [
        "classifier IS: approximator at temperature 0.9 / 0.8 / 0.7",
        " / ".join(f(ds[f"approximator@{t}"]["evaluator_is"]) for t in ("0.9", "0.8", "0.7")),
        "-",
        "-",
    ],
    [
        "classifier IS: Gaussian / GMM-10 on the codes",
        f"{f(ds['gaussian']['evaluator_is'])} / {f(ds['gmm10']['evaluator_is'])}",
        "-",
        "-",
    ],
    ["evaluator FD: approximator samples", f(ds["approximator"]["evaluator_fd"]), "below both baselines", "-"],
    [
        "evaluator FD: Gaussian / GMM-10 on the codes",
        f"{f(ds['gaussian']['evaluator_fd'])} / {f(ds['gmm10']['evaluator_fd'])}",
        "-",
        "-",
    ],
    ["evaluator FD: reconstructions", f(digits["reconstruction"]["evaluator_fd"]), "-", "-"],
]

# The shipped approximator's own training time, as its run measured it (beside a second run on the other core).
APPROX_MINUTES = round(load_checkpoint(Path("runs/digits-info20/best.pt"))["state"]["train_seconds"] / 60)
DIGIT_OBSERVATIONS = [
    "Opened a 64-image grid (`aaae sample --model digits -n 64 digits.png --seed 0`): every image is a "
    "recognisable digit, all ten classes in near-equal shares, with varied slant and stroke width; strokes "
    "are cleaner and more uniform than the plain approximator's.",
    "A few are odd: a 7 with a loop at its foot, a thin open 9; 15 of the 20 components make a single digit, "
    "and the remaining ambiguous shapes come from the five that mix two (4/9, 3/5 and others).",
]

set_card_notes(
    Path("models/digits"),
    {
        "model_ref": "digits",
        "data_terms": "MNIST (LeCun, Cortes & Burges), CC BY-SA 3.0.",
        "training": {
            "command": (
                "OMP_NUM_THREADS=1 aaae train ../shared/data/mnist --out runs/digits --width 0.25 "
                "--lr 5e-4 --epochs 20 --approx-steps 100000 --approx-lr 3e-4 --critic-steps 2 "
                "--snapshot-every 5000 --workers 1\n"
                "OMP_NUM_THREADS=1 aaae train ../shared/data/mnist --out runs/digits-info20 --autoencoder-from "
                "runs/digits --width 0.25 --approx-components 20 --approx-steps 75000 --approx-lr 3e-4 "
                "--critic-steps 2 --snapshot-every 5000 --workers 1\n"
                'aaae export runs/digits-info20 models/digits --data-name "MNIST (60,000 training digits)"'
            ),
            "time": (
                "on one CPU thread of a 2-core AMD EPYC shared with other jobs, no GPU: the autoencoder in about 30 "
                "min (11,380 steps, 20 epochs, batch 100, median 633 images/s); the first run's plain approximator "
                "(100,000 steps, about 115 min) is not shipped; the shipped approximator, trained on that "
                f"autoencoder by the second command, took {APPROX_MINUTES} min for 75,000 steps "
                "(given 100,000, stopped at the 75,000 snapshot for time; constant learning rates, so the same "
                "as --approx-steps 75000)"
            ),
        },
        "evaluation": {
            "text": (
                f"Held out: the {held_digits} MNIST training digits in the 5% hash split (keys `mnist:INDEX`) "
                "that training never saw (the official test set was not available). IS and FD use "
                "`evaluator-digits`, a digit CNN shipped with aaae (99.3% held-out accuracy): IS is the "
                "Inception-score formula on its softmax (10 is the maximum), FD the Frechet distance in its "
                "128-d feature space (not FID); 10,000 samples per sampler."
                " FID, the paper's metric (NVIDIA's Inception, `aaae eval --fid`), of the samples and the "
                f"reconstructions, with the real-vs-real floor beside them: {BENCHMARKS}, 'Quality against the paper's "
                "Table I'."
            ),
            "rows": digit_rows,
            "command": (
                "aaae eval --model digits --data ../shared/data/mnist/train-images-idx3-ubyte.gz "
                "--temperature 0.9 --temperature 0.8 --temperature 0.7 --json digits-eval.json"
            ),
        },
        "observations": DIGIT_OBSERVATIONS,
        "limitations": [
            "The sampler is not the paper's plain approximator: 20 equally likely components, picked from the "
            "noise, each with a learned offset, kept apart by an InfoGAN recogniser in training "
            "(`--approx-components 20`). Its samples read as cleaner digits than the plain approximator's, trained "
            f"as long ({BENCHMARKS}, 'The approximator'). `--approx-components 0`, the default, keeps the paper's.",
            "Each component is equally likely, so a digit's share of the samples follows how many components "
            f"make it: {min(ds['approximator']['class_shares']):.1%} to {max(ds['approximator']['class_shares']):.1%}"
            " by the classifier (reconstructions of the held-out digits: "
            f"{min(digits['reconstruction']['class_shares']):.1%} to "
            f"{max(digits['reconstruction']['class_shares']):.1%}).",
            "The price is diversity: against the plain approximator the classifier-feature FD rose while IS rose, "
            "so samples are cleaner but cover each digit's styles less evenly (still far below both baselines). "
            "Lower temperatures trade further: IS "
            + " / ".join(f(ds[f"approximator@{t}"]["evaluator_is"]) for t in ("0.9", "0.8", "0.7"))
            + ", FD "
            + " / ".join(f(ds[f"approximator@{t}"]["evaluator_fd"]) for t in ("0.9", "0.8", "0.7"))
            + " at 0.9 / 0.8 / 0.7.",
            "IS above the real digits' own is not 'better than real': the classifier is simply surer of these "
            "cleaner shapes, and their classes are evenly spread.",
        ],
    },
)
print("ok")
