"""Photo edits measured on "photos in the wild" with known truth (held-out faces in canvases; photo_canvases.py).

    python tests/bench/photo_edits.py --judge runs/evaluator-faces-judge2 --count 200 --json runs/photo-edits.json

Reports: faces found and landmark error (in % of the eye distance), misses and false faces; that strength 0
returns the canvas bit for bit and how much pixels outside the face change; per attribute, the share of faces
the judge reads as lacking it that it reads as having it after the edit (at the bundle's photo strengths, or
``--multiplier`` x the model's own scales), the identity kept (dlib's face-recognition distance < 0.6 between
the canvas and its edit, ``--identity N`` faces per attribute), and a Frechet distance of the edited faces
against the unedited ones in the judge's feature space. Everything is judged in the model's true frame.

``--split training`` measures on training-split faces instead (for calibrating photo strengths with one judge,
while another judges the held-out result). Needs dlib-bin and face_recognition_models for identity (bench only).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from photo_canvases import Canvas, held_out_files, make_canvases

from aaae_cli.api import Model
from aaae_cli.bundle.locate import open_model
from aaae_cli.evaluation.evaluate import Evaluator
from aaae_cli.evaluation.metrics import frechet_distance_between
from aaae_cli.photos.align import face_frame
from aaae_cli.photos.edit import DEFAULT_LOOK, EditScope, apply_changes, frame_changes, model_view

ATTRIBUTES = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Black_Hair", "Mustache", "Bald")
SAME_PERSON = 0.6


class Identity:
    """dlib's public-domain face-recognition ResNet (128-d descriptors; < 0.6 apart: the same person)."""

    def __init__(self) -> None:
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        assert spec is not None and spec.submodule_search_locations, "pip install face_recognition_models dlib-bin"
        models = Path(next(iter(spec.submodule_search_locations))) / "models"
        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def descriptor(self, pixels: np.ndarray, canvas: Canvas) -> np.ndarray:
        """The descriptor of the face in ``canvas``'s true frame (the same box for a canvas and its edit)."""
        return self.in_frame(pixels, canvas.frame.inverse)

    def in_frame(self, pixels: np.ndarray, frame_to_pixels: np.ndarray) -> np.ndarray:
        """The descriptor of the face whose frame maps to ``pixels`` by ``frame_to_pixels`` (2, 3); the face box is
        the frame's x 0.2-0.8, y 0.35-0.95 (where the landmark template puts a face)."""
        corners = frame_to_pixels @ np.array([[0.2, 0.8, 0.8, 0.2], [0.35, 0.35, 0.95, 0.95], [1, 1, 1, 1]])
        x0, y0 = corners.min(1)
        x1, y1 = corners.max(1)
        box = self.dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = self.shape(np.ascontiguousarray(pixels), box)
        return np.asarray(self.net.compute_face_descriptor(np.ascontiguousarray(pixels), shape))


def detection_report(model: Model, canvases: list[Canvas]) -> tuple[dict, list]:
    """Detect faces in every canvas; landmark errors against the truth; the frames the product would use."""
    errors, frames, misses, false_faces = [], [], 0, 0
    template = model.landmark_template
    for canvas in canvases:
        faces = model.find_faces(canvas.pixels)
        eyes = canvas.landmarks[:2].mean(0)
        near = [f for f in faces if np.linalg.norm(f.landmarks[:2].mean(0) - eyes) < 0.5 * canvas.eye_distance]
        false_faces += len(faces) - len(near)
        if not near:
            misses += 1
            frames.append(None)
            continue
        face = near[0]
        errors.append(np.linalg.norm(face.landmarks - canvas.landmarks, axis=1).mean() / canvas.eye_distance)
        frames.append(face_frame(face, template))
    e = np.asarray(errors) * 100
    report = {
        "canvases": len(canvases),
        "found": len(errors),
        "missed": misses,
        "false_faces": false_faces,
        "landmark_error_pct_of_eye_distance": {
            "median": float(np.median(e)) if len(e) else None,
            "p95": float(np.percentile(e, 95)) if len(e) else None,
            "max": float(e.max()) if len(e) else None,
        },
    }
    return report, frames


def portraits_report(model: Model) -> dict:
    """Faces found on the two public-domain portraits and on rotated and rescaled copies (each has one face)."""
    from PIL import Image

    root = Path(__file__).resolve().parents[1] / "data"
    counts, missed, false_faces = 0, 0, 0
    for name in ("astronaut.jpg", "grace_hopper.jpg"):
        image = Image.open(root / name).convert("RGB")
        for angle in (-30, -20, -10, 0, 10, 20, 30):
            for scale in (0.5, 1.0, 1.5):
                copy = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
                copy = copy.rotate(angle, Image.BICUBIC, expand=True, fillcolor=(128, 128, 128))
                found = len(model.find_faces(np.asarray(copy)))
                counts += 1
                missed += found == 0
                false_faces += max(0, found - 1)
    return {"portrait_copies": counts, "missed": missed, "false_faces": false_faces}


def keep_report(model: Model, judge: Evaluator, canvases: list[Canvas], frames: list, pairs: list[str]) -> list[dict]:
    """How much a kept attribute moves (the judge's probability, mean absolute change) with and without --keep."""
    rows = []
    views_before = judge.run(truth_views(model, [c.pixels for c in canvases], canvases))[0]
    for pair in pairs:
        edited_name, kept_name = (model.attributes.resolve(n) for n in pair.split(":"))
        column = judge.classes.index(kept_name)
        target = judge.classes.index(edited_name)
        row: dict = {"edit": edited_name, "keep": kept_name, "faces": len(canvases)}
        for label, keep in (("without_keep", []), ("with_keep", [kept_name])):
            shift = model.attributes.shift({edited_name: 1.0}, keep=keep, photo=True)
            edited = [
                apply_changes(
                    c.pixels,
                    frame_changes(model, c.pixels, [f], shift, [1.0], scope=EditScope.of({edited_name: 1.0}))[0],
                )
                for c, f in zip(canvases, frames, strict=True)
            ]
            probs = judge.run(truth_views(model, edited, canvases))[0]
            row[label] = {
                "kept_attribute_mean_abs_change": float(np.abs(probs[:, column] - views_before[:, column]).mean()),
                "edited_attribute_mean_change": float((probs[:, target] - views_before[:, target]).mean()),
            }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def calibrate_on_canvases(model: Model, judge: Evaluator, canvases: list[Canvas], frames: list, args) -> None:
    """Photo strengths from canvases of training faces, written into the bundle ``args.calibrate_into``."""
    from aaae_cli.evaluation.calibrate import CalibrationSettings, calibrate_photo_edits, store_calibration
    from aaae_cli.utils.progress import RichProgress, out

    if args.split != "training":
        raise SystemExit("calibrate on the training split (--split training); the held-out one judges the result")
    names = [model.attributes.resolve(a) for a in args.attributes.split(",")] if args.attributes else None
    loaded = [(c.pixels, f) for c, f in zip(canvases, frames, strict=True)]
    settings = CalibrationSettings(names=tuple(names or ()), target=args.target, images=args.images)
    found, skipped = calibrate_photo_edits(model, judge, loaded, settings, progress=RichProgress(out))
    setting = f"{len(loaded)} training faces placed into canvases (tests/bench/photo_canvases.py, seed {args.seed})"
    net = Model.load(str(args.calibrate_into), device="cpu")
    folder = store_calibration(net, found, judge.name, args.target, None, photos=True, setting=setting)
    print(f"wrote photo strengths of {len(found)} attributes into {folder}; skipped: {skipped}")


def truth_views(model: Model, pixels: list[np.ndarray], canvases: list[Canvas]) -> np.ndarray:
    return np.stack([model_view(p, c.frame, model.resolution) for p, c in zip(pixels, canvases, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument("--judge", required=True, help="evaluator folder that reads the attributes")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/celeba"))
    parser.add_argument("--split", choices=("held-out", "training"), default="held-out")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attributes", default=",".join(ATTRIBUTES), help="comma-separated; '' for all (calibration)")
    parser.add_argument("--multiplier", type=float, nargs="*", help="x the model's own scales instead of photo scales")
    parser.add_argument("--identity", type=int, default=60, help="faces per attribute judged for identity (0: none)")
    parser.add_argument("--look", default="", help="EditLook overrides, e.g. gate_low=0,gate_high=0,mask_power=50")
    parser.add_argument("--keep-pairs", default="", help="EDIT:KEEP pairs, e.g. Mustache:Male,Young:Eyeglasses")
    parser.add_argument("--portraits", action="store_true", help="also count faces on the portraits' copies")
    parser.add_argument(
        "--calibrate-into",
        type=Path,
        help="instead: calibrate photo strengths on these canvases (use --split training) and write them into this "
        "bundle folder (all attributes unless --attributes; --target, --images)",
    )
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    start = time.perf_counter()
    model = Model(open_model(args.model), device="cpu")
    judge = Evaluator(Path(args.judge), device="cpu")
    look = DEFAULT_LOOK
    if args.look:
        look = replace(look, **{k: float(v) for k, v in (kv.split("=") for kv in args.look.split(","))})
    canvases = make_canvases(held_out_files(args.data, args.split), args.count, args.seed)
    detection, frames = detection_report(model, canvases)
    print(json.dumps(detection), flush=True)
    keep = [i for i, f in enumerate(frames) if f is not None]
    canvases = [canvases[i] for i in keep]
    frames = [frames[i] for i in keep]
    if args.calibrate_into:
        calibrate_on_canvases(model, judge, canvases, frames, args)
        return
    originals = [c.pixels for c in canvases]
    probs_before, feats_before = judge.run(truth_views(model, originals, canvases))
    identity = Identity() if args.identity else None
    before_desc: dict[int, np.ndarray] = {}
    names = [model.attributes.resolve(a) for a in args.attributes.split(",")]
    multipliers = args.multiplier or [None]

    # Zero strength and the pixels outside the face.
    shift = model.attributes.shift({names[0]: 1.0}, photo=True)
    zero_same = all(
        np.array_equal(apply_changes(c.pixels, frame_changes(model, c.pixels, [f], shift, [0.0], look)[0]), c.pixels)
        for c, f in zip(canvases[:20], frames[:20], strict=True)
    )
    results: dict = {"detection": detection, "zero_strength_identical_of_20": zero_same, "look": look.__dict__}
    if args.portraits:
        results["portraits"] = portraits_report(model)
        print(json.dumps(results["portraits"]), flush=True)
    if args.keep_pairs:
        results["keep"] = keep_report(model, judge, canvases, frames, args.keep_pairs.split(","))
    rows = []
    for multiplier in multipliers:
        for name in names:
            column = judge.classes.index(name)
            lacking = [i for i in range(len(canvases)) if probs_before[i, column] < 0.5]
            attribute = model.attributes[name]
            scale = attribute.scale_for_photos if multiplier is None else multiplier * attribute.scale
            shift = (scale * attribute.direction).astype(np.float32)
            edited, outside = [], []
            for i in lacking:
                scope = EditScope.of({name: 1.0})
                change = frame_changes(model, canvases[i].pixels, [frames[i]], shift, [1.0], look, scope=scope)[0]
                out = apply_changes(canvases[i].pixels, change)
                edited.append(out)
                corners = canvases[i].frame.inverse @ np.array([[0, 1, 1, 0], [0, 0, 1, 1], [1, 1, 1, 1]])
                x0, y0 = np.floor(corners.min(1)).astype(int) - 2
                x1, y1 = np.ceil(corners.max(1)).astype(int) + 2
                mask = np.ones(out.shape[:2], bool)
                mask[max(0, y0) : y1, max(0, x0) : x1] = False
                diff = np.abs(out.astype(np.int16) - canvases[i].pixels.astype(np.int16))[mask]
                outside.append(float(diff.mean()) if diff.size else 0.0)
            probs, feats = judge.run(truth_views(model, edited, [canvases[i] for i in lacking]))
            flipped = float((probs[:, column] > 0.5).mean())
            row = {
                "attribute": name,
                "scale": round(float(scale), 3),
                "multiplier": multiplier,
                "faces": len(lacking),
                "flip_rate": flipped,
                "judge_prob_mean": float(probs[:, column].mean()),
                "fd_edited_vs_unedited": frechet_distance_between(feats, feats_before[lacking]),
                "mean_change_outside_frame": float(np.mean(outside)),
            }
            if identity is not None:
                distances = []
                for k, i in enumerate(lacking[: args.identity]):
                    if i not in before_desc:
                        before_desc[i] = identity.descriptor(canvases[i].pixels, canvases[i])
                    distances.append(
                        float(np.linalg.norm(identity.descriptor(edited[k], canvases[i]) - before_desc[i]))
                    )
                row["identity_kept"] = float(np.mean(np.asarray(distances) < SAME_PERSON))
                row["identity_median_distance"] = float(np.median(distances))
                row["identity_faces"] = len(distances)
            rows.append(row)
            print(json.dumps(row), flush=True)
    results["edits"] = rows
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["command"] = " ".join(sys.argv)
    results["split"] = args.split
    results["judge"] = args.judge
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
