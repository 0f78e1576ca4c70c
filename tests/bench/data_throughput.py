"""Data pipeline benchmark: is decoding ever the bottleneck of training?

Measures, on a real image folder: (1) decoding into the uint8 cache with 1 and with N worker processes
(images/s), (2) gathering training batches from the cache (images/s), against (3) the training
iteration's own images/s (paper width, batch 100; from ``train_throughput.py``, passed in).

    python tests/bench/data_throughput.py ../shared/data/celeba/images --resolution 64 --channels 3 \
        --crop 0.7865 --limit 3000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aaae_cli.data.sources import Source
from aaae_train.data import Preprocessing, load_dataset
from aaae_train.snapshots import to_model_input


def decode_rate(folder: Path, prep: Preprocessing, workers: int, limit: int) -> float:
    """Images/s of building the cache from ``limit`` files of ``folder`` (a fresh cache each time)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "images"
        subset.mkdir()
        for f in files:
            (subset / f.name).symlink_to(f.resolve())
        start = time.perf_counter()
        data = load_dataset([Source("folder", subset)], prep, Path(tmp) / "cache", workers=workers)
        seconds = time.perf_counter() - start
    return len(data) / seconds


def gather_rate(prep: Preprocessing, count: int = 20_000, batch: int = 100, iters: int = 200) -> float:
    """Images/s of picking random training batches out of a uint8 cache and converting them."""
    images = torch.from_numpy(
        np.random.randint(0, 256, (count, prep.resolution, prep.resolution, prep.channels), dtype=np.uint8)
    )
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(iters):
        index = torch.randint(count, (batch,), generator=generator)
        to_model_input(images[index], torch.device("cpu"))
    return batch * iters / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--crop", type=float, default=1.0)
    parser.add_argument("--limit", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    prep = Preprocessing(args.resolution, args.channels, args.crop)
    result = {
        "decode_img_per_s_1_worker": round(decode_rate(args.folder, prep, 1, args.limit), 1),
        f"decode_img_per_s_{args.workers}_workers": round(decode_rate(args.folder, prep, args.workers, args.limit), 1),
        "batch_gather_img_per_s": round(gather_rate(prep), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
