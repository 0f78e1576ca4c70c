"""Identity kept by reconstruction: does the model give back the same person?

    python tests/bench/reconstruction_identity.py --model faces --count 425 --json runs/eval/identity.json

Held-out CelebA faces (the labelled ``images/`` of the 5% hash split, keys ``images/NAME``) are framed as the
runtime frames photos (``model.frames``: face found and aligned to the model's template). Each face is cut at
256 px as the reference; dlib's public-domain face-recognition descriptor (bench extra ``aaae[bench]``) then
compares the reference with (a) the face at the model's resolution enlarged back to 256 px, the ceiling that the
resolution itself allows, and (b) the model's reconstruction enlarged the same way (``--refine N``: after N
refinement steps of the code, ``Model.reconstruct(refine=N)``). Distance < 0.6 counts as the same person.
Also reports the reconstruction MSE against the framed face (pixels in [0, 1]), over the whole frame and over the
face (weighted by the refinement's face ellipse without its floor, :func:`aaae_cli.refine.face_weights`).

``--face-floor F ...`` refines with other weights for the pixels away from the face (1: all pixels alike); how
the shipped floor was chosen, on the first 60 faces, by pixel error alone:

    python tests/bench/reconstruction_identity.py --model models/faces --count 60 --refine 6 \
        --face-floor 1 0.3 0.1 0.03
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

import aaae_cli
import aaae_cli.api

sys.path.insert(0, str(Path(__file__).parent))

from photo_canvases import held_out_files
from photo_edits import SAME_PERSON, Identity

from aaae_cli.photos.align import cut
from aaae_cli.photos.edit import model_view
from aaae_cli.photos.io import load_photo
from aaae_cli.refine import face_weights

REFERENCE = 256


def enlarge(face: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(face).resize((REFERENCE, REFERENCE), Image.Resampling.BICUBIC))


def summary(distances: list[float]) -> dict:
    return {
        "same_person": round(float(np.mean(np.array(distances) < SAME_PERSON)), 4),
        "median_distance": round(statistics.median(distances), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/celeba"))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--offset", type=int, default=0, help="skip the first N held-out faces (those tuned on)")
    parser.add_argument("--refine", type=int, nargs="*", default=[0], help="refinement steps to compare, e.g. 0 5")
    parser.add_argument("--face-floor", type=float, nargs="*", help="refine with these weights away from the face")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reports = []
    for floor in args.face_floor or [None]:
        with _face_floor(floor):
            reports.append(run(args, suffix="" if floor is None else f"@floor{floor:g}"))
    report = reports[0]
    for other in reports[1:]:
        report["reconstruction"].update(other["reconstruction"])
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


@contextlib.contextmanager
def _face_floor(floor: float | None) -> Iterator[None]:
    """Refinement in :meth:`Model.encode` with ``floor`` as the weight away from the face (None: the shipped one)."""
    if floor is None:
        yield
        return
    original = aaae_cli.api.face_weights
    aaae_cli.api.face_weights = functools.partial(original, floor=floor)
    try:
        yield
    finally:
        aaae_cli.api.face_weights = original


def run(args: argparse.Namespace, suffix: str = "") -> dict:
    model = aaae_cli.load(args.model)
    identity = Identity()
    files = [f for f in held_out_files(args.data) if f.parent == args.data / "images"]
    files = files[args.offset : args.offset + args.count]
    scale = np.diag([REFERENCE, REFERENCE, 1.0])[:2]  # frame units -> reference pixels
    ceiling: list[float] = []
    recon: dict[int, list[float]] = {n: [] for n in args.refine}
    mse: dict[int, list[float]] = {n: [] for n in args.refine}
    face_mse: dict[int, list[float]] = {n: [] for n in args.refine}
    face = face_weights(model.landmark_template, model.resolution, floor=0.0)[:, :, None]
    seconds: dict[int, float] = dict.fromkeys(args.refine, 0.0)
    skipped = 0
    for path in files:
        photo = load_photo(path)
        try:
            frame = model.frames(photo)[0]
        except aaae_cli.UserError:  # no face found: counted, not judged
            skipped += 1
            continue
        reference = cut(photo.pixels, frame, REFERENCE)
        small = model_view(photo.pixels, frame, model.resolution)
        truth = identity.in_frame(reference, scale)
        ceiling.append(float(np.linalg.norm(truth - identity.in_frame(enlarge(small), scale))))
        for steps in args.refine:
            start = time.perf_counter()
            back = model.reconstruct(small[None], refine=steps)[0]
            seconds[steps] += time.perf_counter() - start
            recon[steps].append(float(np.linalg.norm(truth - identity.in_frame(enlarge(back), scale))))
            error = ((back.astype(np.float64) - small) / 255.0) ** 2
            mse[steps].append(float(error.mean()))
            face_mse[steps].append(float((error * face).sum() / (face.sum() * error.shape[2])))
    report = {
        "model": args.model,
        "faces": len(ceiling),
        "no_face_found": skipped,
        "offset": args.offset,
        "held_out": f"labelled CelebA images/ in the 5% hash split (keys images/NAME), from number {args.offset}",
        "ceiling_64px": summary(ceiling),
        "reconstruction": {
            str(n) + suffix: {**summary(recon[n]), "mse": round(float(np.mean(mse[n])), 5),
                "face_mse": round(float(np.mean(face_mse[n])), 5), "seconds_per_face": round(
                seconds[n] / max(1, len(ceiling)), 4)}
            for n in args.refine
        },
    }  # fmt: skip
    return report


if __name__ == "__main__":
    main()
