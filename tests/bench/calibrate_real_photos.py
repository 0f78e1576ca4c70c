"""Photo strengths calibrated on real photos: every face ``aaae edit`` would edit in a folder of photos.

    python tests/bench/calibrate_real_photos.py ../shared/photos-dev --judge models/evaluator-faces \
        --attributes Smiling,Male,Eyeglasses,Blond_Hair,Black_Hair,Young --remove Smiling --out runs/faces-calibrated

For each attribute, the smallest multiple of its model-view scale (on a ladder) at which the judge reads the
edited faces it read as lacking the attribute as having it, in ``--target`` of them; written as the bundle's
``photo_scale`` with how it was measured (``aaae info`` and the card show it). ``--remove``: the same for removing
an attribute (strength -1, judged on the faces read as having it), written as ``photo_scale_remove``.
The judge that calibrates here must not be the one that reports the result (tests/bench/real_photos.py with the
second judge does).

The dev photos are research-only: they are read, never copied into the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aaae_cli.api import Model
from aaae_cli.errors import UserError
from aaae_cli.evaluation.calibrate import CalibrationSettings, calibrate_photo_edits, store_calibration
from aaae_cli.evaluation.evaluate import Evaluator
from aaae_cli.images import list_images
from aaae_cli.photos.edit import EditScope, apply_changes, frame_changes, model_view
from aaae_cli.utils.progress import RichProgress, out

# Multiples of an attribute's model-view scale tried, smallest first: a relative change gated to what the model
# explains is fainter than the model's own image, so the ladder reaches further than aaae attributes calibrate's.
LADDER = (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0)


def calibrate_removal(
    model: Model, judge: Evaluator, loaded: list, name: str, target: float, images: int
) -> dict[str, float | int | bool]:
    """The smallest photo scale on :data:`LADDER` at which ``judge`` reads ``target`` of the faces it reads as having
    ``name`` as lacking it after a strength -1 edit; the result and how it was measured."""
    r = model.resolution
    column = judge.classes.index(name)
    before = judge.run(np.stack([model_view(p, f, r) for p, f in loaded]))[0][:, column]
    having = [loaded[i] for i in np.nonzero(before >= 0.5)[0][:images]]
    attribute = model.attributes[name]
    scope = EditScope.of({name: -1.0})
    result: dict[str, float | int | bool] = {}
    for multiple in LADDER:
        scale = float(multiple * attribute.scale)
        shift = (-scale * attribute.direction).astype(np.float32)
        edited = [
            model_view(apply_changes(p, frame_changes(model, p, [f], shift, [1.0], scope=scope)[0]), f, r)
            for p, f in having
        ]
        rate = float((judge.run(np.stack(edited))[0][:, column] < 0.5).mean())
        result = {"scale": scale, "flip_rate": round(rate, 4), "images": len(having), "reached": rate >= target}
        print(f"{name}=-1: scale {scale:g}, {rate:.0%} of {len(having)} faces read as lacking it")
        if rate >= target:
            break
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path, help="folder of real photos (searched recursively)")
    parser.add_argument("--model", default="faces")
    parser.add_argument("--judge", required=True, help="evaluator folder that calibrates (not the reporting one)")
    parser.add_argument("--attributes", default="Smiling,Male,Eyeglasses,Blond_Hair,Black_Hair,Young")
    parser.add_argument("--remove", default="", help="comma-separated attributes whose removal is calibrated too")
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--images", type=int, default=200, help="faces per attribute at most")
    parser.add_argument("--out", type=Path, help="write a calibrated copy of the bundle here (default: in place)")
    args = parser.parse_args()

    model = Model.load(args.model, device="cpu")
    judge = Evaluator(Path(args.judge), "cpu")
    loaded = []
    for path in list_images(args.photos):
        try:
            photo = model.load_photo(path)
            frames, _ = model.face_plan(photo)
        except UserError:
            continue
        loaded.extend((photo.pixels, frame) for frame in frames)
    names = [model.attributes.resolve(a) for a in args.attributes.split(",") if a]
    settings = CalibrationSettings(names=tuple(names), target=args.target, images=args.images, ladder=LADDER)
    found, skipped = (
        calibrate_photo_edits(model, judge, loaded, settings, progress=RichProgress(out)) if names else ([], [])
    )
    for name in [model.attributes.resolve(a) for a in args.remove.split(",") if a]:
        removal = calibrate_removal(model, judge, loaded, name, args.target, args.images)
        attribute = model.attributes[name]
        attribute.photo_scale_remove = float(removal["scale"])
        attribute.source["photo_removal_calibration"] = {
            "evaluator": judge.name,
            "target_flip_rate": args.target,
            **{k: v for k, v in removal.items() if k != "scale"},
        }
    setting = f"{len(loaded)} faces of the real photos in {args.photos.name}/ (tests/bench/calibrate_real_photos.py)"
    folder = store_calibration(model, found, judge.name, args.target, args.out, photos=True, setting=setting)
    for result in found:
        print(f"{result.name}: photo scale {result.scale:g} ({result.flip_rate:.0%} of {result.images} faces)")
    print(f"wrote photo strengths of {len(found)} attributes into {folder}; skipped: {skipped}")


if __name__ == "__main__":
    main()
