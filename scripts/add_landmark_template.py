"""Measure a face bundle's landmark template on its training split and store it in the bundle.

    python scripts/add_landmark_template.py models/faces ../shared/data/celeba/images \
        ../shared/data/celeba/extra_fullres/images --key-prefix images/

``aaae export`` does this itself for runs whose images are faces; this script adds the template to a bundle
exported before it did. Images held out by the hash split (keys ``PREFIX + file name``) are skipped, as
training skipped them; each image is framed exactly as the model frames it (centre crop, resize).
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np

from aaae_cli.api import Model
from aaae_cli.bundle.config import LandmarkTemplate
from aaae_cli.bundle.folder import Bundle
from aaae_cli.bundle.writer import update_bundle
from aaae_cli.data.sources import in_validation
from aaae_cli.images import list_images, load_image
from aaae_cli.photos.align import measure_template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("folders", type=Path, nargs="+", help="training image folders")
    parser.add_argument("--key-prefix", default="", help="prefix of each file name in the hash split's key")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=0, help="at most this many images (0: all)")
    args = parser.parse_args()
    net = Model(Bundle(args.bundle, str(args.bundle)), device="cpu")
    files = [
        f
        for folder in args.folders
        for f in list_images(folder)
        if not in_validation(args.key_prefix + f.name, args.val_fraction)
    ]
    if args.limit:
        files = files[: args.limit]
    start = time.perf_counter()
    framed = np.stack([load_image(f, net.resolution, net.channels, net.crop) for f in files])
    template, found = measure_template(framed)
    if template is None:
        raise SystemExit(f"faces found in only {found} of {len(files)} images: not a face model")
    measured = {
        "images": len(files),
        "faces_found": found,
        "split": f"training split (hash split, fraction {args.val_fraction}, keys {args.key_prefix!r} + file name)",
        "date": datetime.date.today().isoformat(),
    }
    update_bundle(args.bundle, lambda config: config.with_landmarks(LandmarkTemplate.measured(template, measured)))
    print(f"template from {found} of {len(files)} images in {time.perf_counter() - start:.0f} s:")
    print(np.round(template, 4).tolist())


if __name__ == "__main__":
    main()
