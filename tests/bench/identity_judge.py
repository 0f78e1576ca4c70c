"""How the identity judge itself sees sex: real CelebA photos, with CelebA's identity labels.

    python tests/bench/identity_judge.py --count 200 --json runs/eval/identity-judge.json

The photo-edit and reconstruction benches call two faces "the same person" when dlib's face-recognition
descriptors are less than 0.6 apart (``photo_edits.Identity``). A Male edit that keeps the person can still fail
that test if the descriptor itself encodes the sex a face reads as. This measures it on real faces: ``--count``
people with two labelled photos each (CelebA's ``identity_CelebA.txt``; the 9,000 labelled images, both sides of
the hash split: no model is involved), every face found and aligned as the runtime does and cut at 256 px, then

- the distance between a person's two photos (the judge's own same-person rate on real pairs);
- the distance between different people of the same sex and of opposite sexes (CelebA's Male label);
- the distance between the mean descriptors of men and of women: how far the judge moves a face that changes
  nothing but the sex it reads as, if such a change moved it along that axis only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import aaae_cli

sys.path.insert(0, str(Path(__file__).parent))

from photo_edits import SAME_PERSON, Identity

from aaae_cli.data.sources import read_celeba_attributes
from aaae_cli.photos.align import cut
from aaae_cli.photos.io import load_photo

REFERENCE = 256


def summary(distances: list[float]) -> dict:
    values = np.asarray(distances)
    return {
        "pairs": len(values),
        "same_person_share": round(float((values < SAME_PERSON).mean()), 4),
        "median_distance": round(float(np.median(values)), 4),
        "p10_p90": [round(float(np.percentile(values, 10)), 4), round(float(np.percentile(values, 90)), 4)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/celeba"))
    parser.add_argument("--count", type=int, default=200, help="people (two photos each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model, identity = aaae_cli.load("faces", device="cpu"), Identity()
    rows = (line.split() for line in (args.data / "identity_CelebA.txt").read_text().splitlines())
    people = {row[0]: row[1] for row in rows if len(row) == 2}
    names, rows_by_name = read_celeba_attributes(args.data / "list_attr_celeba.txt")
    male = {name: bool(row[names.index("Male")] == 1) for name, row in rows_by_name.items()}
    photos: dict[str, list[str]] = {}
    for name in sorted(male):
        if (args.data / "images" / name).is_file() and name in people:
            photos.setdefault(people[name], []).append(name)
    rng = np.random.default_rng(args.seed)
    candidates = sorted(p for p, names in photos.items() if len(names) >= 2)
    chosen = [candidates[i] for i in rng.choice(len(candidates), size=min(args.count, len(candidates)), replace=False)]
    scale = np.diag([REFERENCE, REFERENCE, 1.0])[:2]

    def descriptor(name: str) -> np.ndarray | None:
        photo = load_photo(args.data / "images" / name)
        try:
            frame = model.frames(photo)[0]
        except aaae_cli.UserError:
            return None
        return identity.in_frame(cut(photo.pixels, frame, REFERENCE), scale)

    firsts: list[tuple[np.ndarray, bool]] = []
    same: list[float] = []
    for person in chosen:
        a, b = (descriptor(n) for n in rng.choice(photos[person], size=2, replace=False))
        if a is None or b is None:
            continue
        same.append(float(np.linalg.norm(a - b)))
        firsts.append((a, male[photos[person][0]]))
    same_sex, opposite = [], []
    for i, (a, a_male) in enumerate(firsts):
        for b, b_male in firsts[i + 1 :]:
            (same_sex if a_male == b_male else opposite).append(float(np.linalg.norm(a - b)))
    men = np.array([d for d, m in firsts if m])
    women = np.array([d for d, m in firsts if not m])
    report = {
        "people": len(firsts),
        "men": len(men),
        "women": len(women),
        "same_person_real_pairs": summary(same),
        "different_people_same_sex": summary(same_sex),
        "different_people_opposite_sex": summary(opposite),
        "mean_descriptor_distance_men_women": round(float(np.linalg.norm(men.mean(0) - women.mean(0))), 4),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
