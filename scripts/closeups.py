"""Close-ups of photo edits for the README and tests/bench/photo_edits.md: the face of each photo, before and
after, side by side.

    python scripts/closeups.py docs/closeups.png tests/data/astronaut.jpg docs/astronaut-blond.jpg ...

The first photo is the original; each following one an edit of it (or ``--pairs`` to give original/edit pairs).
Every tile is the largest face's neighbourhood (its box enlarged 2x) cut at the photo's own resolution and shown
at ``--tile`` pixels, so a soft change over a sharp photo would show. ``--make-inputs DIR`` instead writes the
README's made inputs (a black-and-white Grace Hopper; the astronaut and Grace Hopper side by side).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import aaae_cli as aaae


def face_box(model: aaae.Model, path: Path, grow: float) -> tuple[int, int, int, int]:
    """The largest face's box in ``path``, enlarged ``grow`` times about its centre (a square)."""
    face = max(model.find_faces(path), key=lambda f: f.eye_distance)
    x0, y0, x1, y1 = face.box
    side = grow * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.1 * side
    return round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)


def make_inputs(folder: Path) -> None:
    """A black-and-white photo and a photo of two people, made from the two public-domain portraits in tests/data."""
    data = Path(__file__).parent.parent / "tests" / "data"
    Image.open(data / "grace_hopper.jpg").convert("L").save(folder / "hopper-bw.jpg", quality=95)
    left = Image.open(data / "astronaut.jpg").convert("RGB")
    right = Image.open(data / "grace_hopper.jpg").convert("RGB").resize((437, 512), Image.Resampling.LANCZOS)
    pair = Image.new("RGB", (left.width + right.width, 512))
    pair.paste(left, (0, 0))
    pair.paste(right, (left.width, 0))
    pair.save(folder / "two-portraits.jpg", quality=95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the PNG to write (with --make-inputs: the folder)")
    parser.add_argument("photos", type=Path, nargs="*")
    parser.add_argument(
        "--make-inputs", action="store_true", help="write hopper-bw.jpg and two-portraits.jpg into OUT instead"
    )
    parser.add_argument("--pairs", action="store_true", help="photos are original, edit, original, edit, ...")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--grow", type=float, default=2.0)
    args = parser.parse_args()
    if args.make_inputs:
        make_inputs(args.out)
        return
    model = aaae.load("faces", device="cpu")
    groups = [args.photos[i : i + 2] for i in range(0, len(args.photos), 2)] if args.pairs else [args.photos]
    tiles = []
    for group in groups:
        box = face_box(model, group[0], args.grow)
        for path in group:
            crop = Image.open(path).convert("RGB").crop(box)
            tiles.append(np.asarray(crop.resize((args.tile, args.tile), Image.Resampling.LANCZOS)))
    gap = np.full((args.tile, 4, 3), 255, np.uint8)
    row = np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)
    Image.fromarray(row).save(args.out)
    print(f"wrote {args.out}: {len(tiles)} close-ups")


if __name__ == "__main__":
    main()
