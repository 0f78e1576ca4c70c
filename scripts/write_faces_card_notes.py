"""Write the model-card notes of the built-in ``faces`` model from measured reports (models/BUILD.md, step 4).

    python scripts/write_faces_card_notes.py runs/eval/faces.json runs/eval/faces-judge2.json \
        runs/eval/identity.json runs/approx2-70k/best.pt runs/eval/identity-refine18.json runs/eval/moments-faces.json

``faces.json`` is ``aaae eval`` with the shipped ``evaluator-faces`` (the Frechet distances; that judge also
calibrated the edit strengths), ``faces-judge2.json`` the same with ``--evaluator runs/evaluator-faces-judge2``, a
classifier that calibrated nothing (the edit rates reported), ``identity.json`` is
``tests/bench/reconstruction_identity.py``'s report (``--refine 0 6``; then a second one with ``--refine 18``),
the checkpoint gives the approximator's training time, and ``moments-faces.json`` (``tests/bench/moment_matching.py``)
the samples' FD before their moments were matched at export.
The observations were written after opening the sample and reconstruction grids. The photo-edit rows are added
afterwards by ``scripts/add_photo_card_notes.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aaae_cli.bundle.writer import set_card_notes
from aaae_train.checkpoint import load_checkpoint

faces = json.loads(Path(sys.argv[1]).read_text())
judge2 = json.loads(Path(sys.argv[2]).read_text())
identity = json.loads(Path(sys.argv[3]).read_text())
approximator_run = load_checkpoint(Path(sys.argv[4]))["state"]
longer = json.loads(Path(sys.argv[5]).read_text())["reconstruction"]["18"]
as_trained = json.loads(Path(sys.argv[6]).read_text())["sets"]["as trained"]["evaluator-faces"]["fd"]
held = f"{faces['held_out_images']:,}"
TARGETS = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Mustache", "Bald")
samples, recon = faces["samples"], faces["reconstruction"]
plain, refined = identity["reconstruction"]["0"], identity["reconstruction"]["6"]
ratio = samples["approximator"]["evaluator_fd"] / recon["evaluator_fd"]
baselines = min(samples["gaussian"]["evaluator_fd"], samples["gmm10"]["evaluator_fd"])
below = samples["approximator"]["evaluator_fd"] < baselines
ceiling = identity["ceiling_64px"]


def fd(report: dict) -> str:
    return f"{report['evaluator_fd']:.2f}"


def _refined_row(how: str, report: dict) -> list[str]:
    same, median, mse = report["same_person"], report["median_distance"], report["mse"]
    return [f"the same with {how}", f"{same:.0%} (median distance {median:.2f}, MSE {mse:.5f})", "-", "-"]


def met(ok: bool) -> str:
    return "" if ok else " (not met)"


rows = [
    [f"measure ({held} held-out CelebA faces)", "value", "target", "paper, Table I"],
    [
        "reconstruction MSE, pixels in [0, 1]",
        f"{recon['mse_01']:.5f}",
        "<= 0.005" + met(recon["mse_01"] <= 0.005),
        "0.023",
    ],
    [
        f"same person after `aaae reconstruct` (dlib distance < 0.6; {identity['faces']} faces; 6 face-weighted "
        "refinement steps, the default for face models)",
        f"{refined['same_person']:.0%} (median distance {refined['median_distance']:.2f}, MSE {refined['mse']:.5f})",
        ">= 80%" + met(refined["same_person"] >= 0.8),
        "-",
    ],
    [
        "the same with the encoder's code alone (`--refine 0`)",
        f"{plain['same_person']:.0%} (median distance {plain['median_distance']:.2f})",
        "-",
        "-",
    ],
    _refined_row("`--refine 18`", longer),
    [
        "the same for the faces only shrunk to 64 px (the resolution's ceiling)",
        f"{ceiling['same_person']:.0%} (median distance {ceiling['median_distance']:.2f})",
        "-",
        "-",
    ],
    ["evaluator FD: reconstructions (the autoencoder's floor)", fd(recon), "-", "-"],
    [
        "evaluator FD: approximator samples",
        f"{fd(samples['approximator'])} ({ratio:.2f} x the reconstructions')",
        "<= 1.3 x reconstructions, below both baselines" + met(ratio <= 1.3 and below),
        "-",
    ],
    ["evaluator FD: the approximator as trained (`aaae export --no-match-moments`)", f"{as_trained:.2f}", "-", "-"],
    ["evaluator FD: Gaussian fitted to the codes", fd(samples["gaussian"]), "-", "-"],
    ["evaluator FD: 10-component GMM on the codes", fd(samples["gmm10"]), "-", "-"],
    ["evaluator FD: approximator at temperature 0.8", fd(samples["approximator@0.8"]), "-", "-"],
]
for name in TARGETS:
    add, own = judge2["edits"][name]["add"], faces["edits"][name]["add"]
    rows.append(
        [
            f"edit +{name}: read as {name} by a judge that calibrated nothing (by the calibrating judge)",
            f"{add['flip_rate']:.0%} of {add['images']} ({own['flip_rate']:.0%})",
            ">= 70%" + met(add["flip_rate"] >= 0.7),
            "-",
        ]
    )
approx_minutes = round(approximator_run["train_seconds"] / 60)

set_card_notes(
    Path("models/faces"),
    {
        "model_ref": "faces",
        "license_name": "celeba-research-only",
        "data_terms": (
            "The weights were trained on CelebA (Liu, Luo, Wang & Tang, ICCV 2015), whose images are available "
            "for non-commercial research purposes only; treat this model the same way. No CelebA image is "
            "stored in this bundle or in the aaae repository."
        ),
        "training": {
            "command": (
                "python -m aaae_train.archive ../shared/data/celeba ../shared/data/celeba/extra_fullres/images "
                "-o gpu-carry/faces-aligned.zip --align face --format webp --quality 90\n"
                "SKIP_BENCH=1 bash scripts/gpu_session.sh gpu-carry/faces-aligned.zip 575   # one H100; run b: "
                "aaae train ... --width 0.7 --c-dim 256 --hflip --lr 3e-4 --max-minutes 6.7\n"
                "OMP_NUM_THREADS=1 aaae train gpu-carry/faces-aligned.zip --out runs/faces-b-approx "
                "--autoencoder-from pack/b.pt --width 0.7 --c-dim 256 --approx-steps 20000 --snapshot-every 2500\n"
                'aaae export runs/faces-b-approx models/faces --license other --data-name "CelebA (9,000 aligned '
                'faces with 40 attributes + 5,973 extra faces)"\n'
                "aaae attributes calibrate --model models/faces --data ../shared/data/celeba\n"
                "# the approximator trained on in a copy of the run, then put into the bundle (models/BUILD.md)\n"
                "OMP_NUM_THREADS=1 aaae train gpu-carry/faces-aligned.zip --out runs/faces-b-approx2 "
                f"--autoencoder-from pack/b.pt --width 0.7 --c-dim 256 --approx-steps {approximator_run['approx_step']}"
                " --snapshot-every 5000\n"
                "aaae export runs/approx2-70k/best.pt runs/bundle-approx2-mm --license other --data-name ...   "
                "# matches the code moments\n"
                "python scripts/swap_approximator.py models/faces runs/bundle-approx2-mm"
            ),
            "time": (
                f"6.7 minutes on one NVIDIA H100 for the autoencoder ({approximator_run['step']:,} steps of batch "
                "100, about 144 epochs of the 14,935 aligned faces and their mirror images, about 5,200 images/s "
                f"beside a second run), then {approximator_run['approx_step']:,} approximator steps in about "
                f"{approx_minutes} minutes on one (shared) CPU thread, over two sessions"
            ),
        },
        "evaluation": {
            "text": (
                f"Held out: the {held} labelled CelebA faces in the 5% hash split that training never saw (keys "
                "`images/NAME.jpg`; the CelebA images kept aside by the data owners were not available), each found "
                "and aligned as `aaae` aligns a photo, the frame the model was trained in. FD is a Frechet distance "
                "in the 256-d feature space of `evaluator-faces` (a CelebA 40-attribute CNN shipped with aaae; "
                "**not FID**) between 10,000 generated images and the held-out faces. Identity: dlib's public-domain "
                "face-recognition descriptor between each face cut at 256 px and the model's reconstruction enlarged "
                f"to 256 px ({identity['faces']} held-out faces after the first {identity.get('offset', 60)}, on "
                "which `--refine`'s damping and face weighting were chosen, by pixel error). Edits are made at the "
                "default strength on 200 held-out faces "
                "the judge reads as lacking the attribute."
            ),
            "rows": rows,
            "command": "aaae eval --model faces --data ../shared/data/celeba --temperature 0.8 --json faces-eval.json",
        },
        "observations": [
            "Opened a 64-image grid (`aaae sample -n 64 faces.png --seed 0`): every tile is a face, framed like the "
            "aligned training faces (eyes level and at one height), varied in hair, skin tone, sex, age and pose; "
            "a few wear glasses or sunglasses.",
            "They are soft: skin is smooth, hair is a mass with few strands, backgrounds are mottled blurs; with "
            "the code moments matched the same noise gives the same faces, a little more contrasted and varied in "
            "colour. About one tile in six is flawed: a smeared or half-dark face, a ghostly pale one, asymmetric "
            f"features. The samples are further from real faces than the reconstructions (evaluator FD "
            f"{ratio:.2f} x).",
            "Reconstructions of held-out faces keep pose, hair, expression and colouring, and for most of them "
            "the person; freckles, wrinkles and thin glasses frames are lost (the 64-pixel model's change is soft).",
        ],
        "limitations": [
            f"Identity: {refined['same_person']:.0%} of held-out faces come back as the same person to a "
            f"face-recognition judge from `aaae reconstruct` (6 refinement steps, 0.23 s a face; "
            f"{longer['same_person']:.0%} with `--refine 18`), but only {plain['same_person']:.0%} from the "
            "encoder's code alone, which is what edits and the studio start from; against 100% for the faces "
            "merely shrunk to 64 px. A face made male (or bald) often reads as someone else.",
            "Faces unlike CelebA's reconstruct worse: the public-domain portrait of Grace Hopper (old, in a cap "
            "and glasses) loses her glasses and much of her likeness; the astronaut portrait comes back close "
            "(MSE 0.0057 on the aligned face).",
            "Edits carry CelebA's correlations: +Bald also ages the face, whitens the hair and adds glasses; "
            "+Mustache and +Male add stubble and a heavier jaw; `--keep` holds such side effects back.",
            "The training faces were carried to the GPU as WebP (quality 90, `python -m aaae_train.archive`): "
            "an error of about 1.5e-4 (MSE) in the targets the model learned from. CelebA is mostly young, "
            "light-skinned celebrities.",
            "The approximator converged for its size (its latent Frechet distance stayed at 50 from 70,000 to "
            "87,000 steps) with its codes spread less than the encoder's (the covariance's trace 0.875 of "
            f"theirs). Export matches its code mean and covariance to the training codes' (not in the paper): "
            f"evaluator FD {as_trained:.1f} as trained, {fd(samples['approximator'])} matched. The flawed tiles "
            "remain; a wider approximator trained as long is what could remove them.",
        ],
    },
)
