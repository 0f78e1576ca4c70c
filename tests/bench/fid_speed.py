"""How fast FID's Inception network reads images here: onnxruntime (what ``aaae eval --fid`` runs) against the
TorchScript file it was converted from, side by side, and the time 10,000 samples take.

    python tests/bench/fid_speed.py --images 200 --repeats 3

Both read the same uint8 64x64 RGB batches (the size of the faces and flowers models; the network's cost does not
depend on it: every image is resized to 299x299) in alternating runs, so load on the machine falls on both alike;
prints images a second (the median of the runs) and the largest difference between their features. Needs the
network in the cache (a first ``aaae eval --fid``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np

from aaae_cli.evaluation.inception import OnnxInceptionFeatures, verified_onnx
from aaae_train.inception import InceptionFeatures, inception_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200, help="images per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    onnx = verified_onnx()
    if onnx is None:
        raise SystemExit("error: run `aaae eval --fid` once first (it converts the network into the cache)")
    readers = {
        "onnxruntime": OnnxInceptionFeatures(onnx, batch=args.batch),
        "TorchScript": InceptionFeatures(inception_file(), batch=args.batch),
    }
    images = np.random.default_rng(0).integers(0, 256, (args.images, 64, 64, 3), dtype=np.uint8)
    features = {name: read(images[:8]) for name, read in readers.items()}  # warm up, and compare
    rates: dict[str, list[float]] = {name: [] for name in readers}
    for repeat in range(args.repeats):
        for name in list(readers)[:: 1 if repeat % 2 == 0 else -1]:
            start = time.perf_counter()
            readers[name](images)
            rates[name].append(args.images / (time.perf_counter() - start))
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"{datetime.date.today()}, {machine}, {args.images} images x {args.repeats} runs each")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:12s} {rate:6.1f} images/s  (10,000 images: {10_000 / rate / 60:.1f} min)")
    ratio = statistics.median(rates["onnxruntime"]) / statistics.median(rates["TorchScript"])
    difference = np.abs(features["onnxruntime"] - features["TorchScript"]).max()
    print(f"onnxruntime / TorchScript: {ratio:.2f}x; largest feature difference {difference:.2e}")


if __name__ == "__main__":
    main()
