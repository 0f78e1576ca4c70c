"""Put the photo-edit lines into a face bundle's model card: what photo edits do and what fails, and where they are
measured (BENCHMARKS.md, "Photo edits").

    python scripts/add_photo_card_notes.py models/faces

Adds (or replaces, when run again) the card's observation and limitation about editing photos, and drops any
evaluation rows an earlier version of this script wrote; the rest of the card (scripts/write_faces_card_notes.py's
notes) is kept. The card copies no photo-edit figure: they are measured on photos and canvases by
tests/bench/real_photos.py and tests/bench/photo_edits.py, change with every recalibration of the strengths, and are
said once, in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

MARK = "photo edit"  # every row and line this script writes starts with it, so a second run replaces them
WHERE = "BENCHMARKS.md in the aaae repository, 'Photo edits'"
OBSERVATION = (
    f"{MARK}s (`aaae edit photo.jpg`) find the faces, align each as the training faces were aligned, and scale the "
    "photo's own luminance by the model's change, at the photo's resolution; colour is added only for attributes "
    "about colour, and never to a black-and-white photo. How often they read as the attribute and keep the person, "
    f"on real photos and on held-out faces placed into larger photos: {WHERE}."
)
LIMITATION = (
    f"{MARK}s are as soft as the model's 64-pixel change, and a relative change can only darken what is there: "
    "glasses come out as dark rings, a removed smile greys the mouth and leaves ghost teeth, a smile added to a "
    "closed mouth can double it, and blond hair turns a dark cap pale. A face made male reads as another person to "
    "the identity judge more often than other edits, as that judge itself sets men and women far apart; which "
    f"edits meet the targets: {WHERE} (and 'Edit judges')."
)


def notes(card: dict[str, Any]) -> dict[str, Any]:
    """``card``'s evaluation rows, observations and limitations with this script's lines (and only its latest)."""
    evaluation = card.get("evaluation") or {}
    rows = [r for r in evaluation.get("rows", []) if not str(r[0]).startswith(MARK)]
    observations = [o for o in card.get("observations", []) if not o.startswith(MARK)] + [OBSERVATION]
    limitations = [line for line in card.get("limitations", []) if not line.startswith(MARK)] + [LIMITATION]
    return {"evaluation": {**evaluation, "rows": rows}, "observations": observations, "limitations": limitations}


def main() -> None:
    from aaae_cli.bundle.writer import set_card_notes

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args()
    card = json.loads((args.bundle / "config.json").read_text()).get("card") or {}
    set_card_notes(args.bundle, notes(card))


if __name__ == "__main__":
    main()
