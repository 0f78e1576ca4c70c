"""How much of a model's FID is softness: FID and KID of held-out real images blurred by known amounts, beside the
model's reconstructions of the same images (from the encoder's code, and after ``--refine`` steps) and those
reconstructions sharpened by an unsharp mask, all against the reference ``aaae eval --fid`` uses.

The question it answers (issue 26): Inception sees the decoder's softness, not the sampler. If a slightly blurred
real face already scores as badly as a reconstruction, what closes the gap is a sharper decoder, not a better
sampler; if sharpening the reconstruction after the fact closes it, a post-filter would do.

Run after ``aaae eval --model faces --data CELEBA --fid`` (whose reference statistics it reads from the cache;
without them it measures them first, about a quarter of an hour):

    python tests/bench/fid_softness.py --model faces --data ../shared/data/celeba --json runs/table_i/softness.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from aaae_cli.api import Model
from aaae_cli.evaluation.evaluate import EvalSettings, fid_real_side, load_eval_data
from aaae_cli.evaluation.fid import batches, distances, image_stats
from aaae_cli.evaluation.inception import inception_judge, verified_onnx
from aaae_cli.utils.progress import RichProgress

BLURS = (0.5, 0.75, 1.0, 1.5)  # Gaussian radii in pixels of the model's frame
UNSHARP = ((1.0, 100), (1.0, 200))  # (radius, percent) of PIL's UnsharpMask on the reconstructions


def filtered(images: np.ndarray, image_filter: ImageFilter.Filter) -> np.ndarray:
    """Each uint8 image (N, R, R, C) through a PIL filter."""
    mode = "L" if images.shape[-1] == 1 else "RGB"
    out = [np.asarray(Image.fromarray(img.squeeze(-1) if mode == "L" else img).filter(image_filter)) for img in images]
    return np.stack(out).reshape(images.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--refine", type=int, default=6, help="refinement steps for the refined reconstructions")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    model = Model.load(args.model, device="cpu")
    settings = EvalSettings()
    network = verified_onnx()
    if network is None:
        parser.error("run 'aaae eval --fid' once first: it converts FID's network (and caches the reference)")
    judge = inception_judge(network, "cpu")
    data = load_eval_data(args.data, None, model, settings.split, settings.held_out_limit, settings.fit_limit, 0)
    held = data.held_out
    variants: dict[str, np.ndarray] = {}  # the unfiltered held-out images are the floor fid_real_side reports
    for radius in BLURS:
        variants[f"real, Gaussian blur {radius:g} px"] = filtered(held, ImageFilter.GaussianBlur(radius))
    started = time.perf_counter()
    recon = model.reconstruct(held)
    variants["reconstructions (encoder's code)"] = recon
    for radius, percent in UNSHARP:
        sharpened = filtered(recon, ImageFilter.UnsharpMask(radius, percent, 0))
        variants[f"reconstructions, unsharp mask {radius:g} px {percent}%"] = sharpened
    refined = model.reconstruct(held, refine=args.refine)
    variants[f"reconstructions, --refine {args.refine}"] = refined
    seconds_reconstructing = time.perf_counter() - started
    report: dict = {"model": model.name, "data": data.description, "images": len(held), "rows": {}}
    with RichProgress() as progress:
        reference = fid_real_side(judge, model, data, settings, progress, report)  # its floors go into report
        floor = report["fid_real"]["floor_held_out"]
        print(f"{'real held-out (the floor)':48s} FID {floor['fid']:8.2f}  KID {floor['kid']:.4f}")
        for name, images in variants.items():
            stats = image_stats(judge, batches(images, judge.batch), len(images), name, progress)
            mse = float((((images.astype(np.float64) - held) / 255.0) ** 2).mean())
            report["rows"][name] = {**distances(reference, stats), "mse_01": round(mse, 6)}
            print(f"{name:48s} FID {report['rows'][name]['fid']:8.2f}  KID {report['rows'][name]['kid']:.4f}")
    report["seconds_reconstructing"] = round(seconds_reconstructing, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
