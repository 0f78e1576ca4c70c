"""Write the model-card notes of the built-in ``faces`` model from measured reports (models/BUILD.md, step 4).

    python scripts/write_faces_card_notes.py runs/eval/faces.json runs/eval/identity.json runs/approx2-70k/best.pt

``faces.json`` is ``aaae eval`` with the shipped ``evaluator-faces``, ``identity.json`` is
``tests/bench/reconstruction_identity.py``'s report (``--refine 0 6``), and the checkpoint gives the training steps
and the approximator's training time. The card keeps only the model's headline figures (what ``aaae eval`` and the
identity bench measure of this bundle); everything else measured about it (``--refine 18``, the edits judged by a
classifier that calibrated nothing, the matched code moments, the photo edits) is said once, in BENCHMARKS.md,
which the card names. The card carries no machine paths or session history: the commands exactly as they were run
are in models/BUILD.md. The observations were written after opening the sample and reconstruction grids. The
photo-edit lines are added afterwards by ``scripts/add_photo_card_notes.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = "BENCHMARKS.md in the aaae repository"
DATA_NAME = "CelebA (9,000 aligned faces with 40 attributes + 5,973 extra faces)"

# How the shipped bundle can be made again, without the paths and session wrappers of the one GPU lease it was
# trained in (models/BUILD.md keeps those, command by command).
TRAINING_COMMAND = (
    "aaae data pack ../shared/data/celeba ../shared/data/celeba/extra_fullres/images "
    "-o faces-aligned.zip --align face --format webp --quality 90\n"
    "aaae train faces-aligned.zip --out runs/faces --width 0.7 --c-dim 256 --hflip --lr 3e-4 --max-minutes 6.7   "
    "# the autoencoder, on one NVIDIA H100\n"
    "OMP_NUM_THREADS=1 aaae train faces-aligned.zip --out runs/faces-approx --autoencoder-from runs/faces/best.pt "
    "--width 0.7 --c-dim 256 --approx-steps 70000 --snapshot-every 5000   # the approximator, on the CPU\n"
    f'aaae export runs/faces-approx models/faces --license other --data-name "{DATA_NAME}"\n'
    "aaae attributes calibrate --model models/faces --data ../shared/data/celeba\n"
    "# the photo strengths, the order the commands were run in and the exact commands: models/BUILD.md"
)
EVALUATION_COMMAND = "aaae eval --model faces --data ../shared/data/celeba --temperature 0.8 --json faces-eval.json"
DATA_TERMS = (
    "The weights were trained on CelebA (Liu, Luo, Wang & Tang, ICCV 2015), whose images are available "
    "for non-commercial research purposes only; treat this model the same way. No CelebA image is "
    "stored in this bundle or in the aaae repository."
)
LIMITATIONS = [
    "Identity: `aaae reconstruct` refines the code (6 face-weighted steps by default) and gives back the same "
    "person far more often than the encoder's code alone (the table above), which is what edits and the studio "
    "start from. A face made male (or bald) often reads as someone else.",
    "Faces unlike CelebA's reconstruct worse: the public-domain portrait of Grace Hopper (old, in a cap "
    "and glasses) loses her glasses and much of her likeness; the astronaut portrait comes back close "
    "(MSE 0.0057 on the aligned face).",
    "Edits carry CelebA's correlations: +Bald also ages the face, whitens the hair and adds glasses; "
    "+Mustache and +Male add stubble and a heavier jaw; `--keep` holds such side effects back.",
    "The training faces were carried to the GPU as WebP (quality 90, `aaae data pack`): "
    "an error of about 1.5e-4 (MSE) in the targets the model learned from. CelebA is mostly young, "
    "light-skinned celebrities.",
    "The approximator converged for its size with its codes spread less than the encoder's; export matches its "
    "code mean and covariance to the training codes' (not in the paper), which brought the samples within the "
    f"target ({BENCHMARKS}, 'The faces model'). The flawed tiles remain; a wider approximator trained as long is "
    "what could remove them.",
]


def observations(ratio: float) -> list[str]:
    """What the sample and reconstruction grids showed (``ratio``: samples' evaluator FD over reconstructions')."""
    return [
        "Opened a 64-image grid (`aaae sample -n 64 faces.png --seed 0`): every tile is a face, framed like the "
        "aligned training faces (eyes level and at one height), varied in hair, skin tone, sex, age and pose; "
        "a few wear glasses or sunglasses.",
        "They are soft: skin is smooth, hair is a mass with few strands, backgrounds are mottled blurs; with "
        "the code moments matched the same noise gives the same faces, a little more contrasted and varied in "
        "colour. About one tile in six is flawed: a smeared or half-dark face, a ghostly pale one, asymmetric "
        f"features. The samples are further from real faces than the reconstructions (evaluator FD {ratio:.2f} x).",
        "Reconstructions of held-out faces keep pose, hair, expression and colouring, and for most of them "
        "the person; freckles, wrinkles and thin glasses frames are lost (the 64-pixel model's change is soft).",
    ]


def training_time(steps: int, approx_steps: int, approx_minutes: int) -> str:
    """The card's training-time line, from the run's own counters."""
    return (
        f"6.7 minutes on one NVIDIA H100 for the autoencoder ({steps:,} steps of batch 100, about 144 epochs of the "
        f"14,935 aligned faces and their mirror images), then {approx_steps:,} approximator steps in about "
        f"{approx_minutes} minutes on one CPU thread"
    )


def evaluation_text(held: str, identity_faces: int, offset: int) -> str:
    """The card's evaluation paragraph: what was held out and how each measure reads."""
    return (
        f"Held out: the {held} labelled CelebA faces in the 5% hash split that training never saw (keys "
        "`images/NAME.jpg`; the CelebA images kept aside by the data owners were not available), each found "
        "and aligned as `aaae` aligns a photo, the frame the model was trained in. FD is a Frechet distance "
        "in the 256-d feature space of `evaluator-faces` (a CelebA 40-attribute CNN shipped with aaae; "
        "**not FID**) between 10,000 generated images and the held-out faces. Identity: dlib's public-domain "
        "face-recognition descriptor between each face cut at 256 px and the model's reconstruction enlarged "
        f"to 256 px ({identity_faces} held-out faces after the first {offset}, on which `--refine`'s damping and "
        "face weighting were chosen, by pixel error). The edits judged by a classifier that calibrated nothing, "
        f"`--refine 18` and how each figure was measured: {BENCHMARKS}, 'The faces model'."
        " FID, the paper's metric (NVIDIA's Inception, `aaae eval --fid`), of the samples and the "
        f"reconstructions, with the real-vs-real floor beside them: {BENCHMARKS}, 'Quality against the paper's "
        "Table I'."
    )


def met(ok: bool) -> str:
    return "" if ok else " (not met)"


def evaluation_rows(faces: dict[str, Any], identity: dict[str, Any]) -> list[list[str]]:
    """The headline figures: reconstruction, identity, and samples against the two baselines."""
    samples, recon = faces["samples"], faces["reconstruction"]
    plain, refined = identity["reconstruction"]["0"], identity["reconstruction"]["6"]
    ratio = samples["approximator"]["evaluator_fd"] / recon["evaluator_fd"]
    below = samples["approximator"]["evaluator_fd"] < min(
        s["evaluator_fd"] for s in (samples["gaussian"], samples["gmm10"])
    )
    return [
        [f"measure ({faces['held_out_images']:,} held-out CelebA faces)", "value", "target", "paper, Table I"],
        [
            "reconstruction MSE, pixels in [0, 1]",
            f"{recon['mse_01']:.5f}",
            "<= 0.005" + met(recon["mse_01"] <= 0.005),
            "0.023",
        ],
        [
            f"same person after `aaae reconstruct` (dlib distance < 0.6; {identity['faces']} faces; 6 face-weighted "
            "refinement steps, the default for face models)",
            f"{refined['same_person']:.0%} (median distance {refined['median_distance']:.2f}, "
            f"MSE {refined['mse']:.5f})",
            ">= 80%" + met(refined["same_person"] >= 0.8),
            "-",
        ],
        [
            "the same with the encoder's code alone (`--refine 0`)",
            f"{plain['same_person']:.0%} (median distance {plain['median_distance']:.2f})",
            "-",
            "-",
        ],
        ["evaluator FD: reconstructions (the autoencoder's floor)", f"{recon['evaluator_fd']:.2f}", "-", "-"],
        [
            "evaluator FD: approximator samples",
            f"{samples['approximator']['evaluator_fd']:.2f} ({ratio:.2f} x the reconstructions')",
            "<= 1.3 x reconstructions, below both baselines" + met(ratio <= 1.3 and below),
            "-",
        ],
        ["evaluator FD: Gaussian fitted to the codes", f"{samples['gaussian']['evaluator_fd']:.2f}", "-", "-"],
        ["evaluator FD: 10-component GMM on the codes", f"{samples['gmm10']['evaluator_fd']:.2f}", "-", "-"],
    ]


def notes(faces: dict[str, Any], identity: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The whole ``card`` block of ``config.json`` (but the photo-edit lines)."""
    ratio = faces["samples"]["approximator"]["evaluator_fd"] / faces["reconstruction"]["evaluator_fd"]
    return {
        "model_ref": "faces",
        "license_name": "celeba-research-only",
        "data_terms": DATA_TERMS,
        "training": {
            "command": TRAINING_COMMAND,
            "time": training_time(run["step"], run["approx_step"], round(run["train_seconds"] / 60)),
        },
        "evaluation": {
            "text": evaluation_text(f"{faces['held_out_images']:,}", identity["faces"], identity.get("offset", 60)),
            "rows": evaluation_rows(faces, identity),
            "command": EVALUATION_COMMAND,
        },
        "observations": observations(ratio),
        "limitations": LIMITATIONS,
    }


def main() -> None:
    from aaae_cli.bundle.writer import set_card_notes
    from aaae_train.checkpoint import load_checkpoint

    faces = json.loads(Path(sys.argv[1]).read_text())
    identity = json.loads(Path(sys.argv[2]).read_text())
    run = load_checkpoint(Path(sys.argv[3]))["state"]
    set_card_notes(Path("models/faces"), notes(faces, identity, run))


if __name__ == "__main__":
    main()
