"""Compare finished training runs on their held-out images: reconstruction and sample quality.

Used to choose defaults by measurement (the schedule, the EMA). For each run folder it reports:
- ``val_mse``: held-out reconstruction MSE, pixels in [0, 1], of the exported (EMA) weights, and of
  the raw weights (``val_mse_raw``, from the run's last validation);
- ``pixel_fd``: Frechet distance between N samples and the held-out images, in pixel space;
- ``latent_fd_std``: Frechet distance between approximator codes and held-out codes, both standardised
  by the held-out codes' per-dimension mean and spread (comparable across encoders);
- ``train_minutes``: training time of the run.

    python tests/bench/compare_runs.py runs/a runs/b [-n 5000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from aaae_cli.evaluation.evaluate import latent_frechet
from aaae_cli.evaluation.metrics import frechet_distance_between
from aaae_train.checkpoint import load_checkpoint, load_networks
from aaae_train.export import load_run_data
from aaae_train.run_folder import read_metrics
from aaae_train.snapshots import encode, reconstruction_mse


@torch.no_grad()
def evaluate(run: Path, count: int) -> dict:
    checkpoint = load_checkpoint(run / "best.pt")
    options = checkpoint["options"]
    dataset = load_run_data(checkpoint)
    _, val_idx = dataset.split(options["val_fraction"])
    images = torch.from_numpy(np.ascontiguousarray(dataset.images))
    encoder, decoder, approximator = load_networks(checkpoint)  # the weights a bundle gets (EMA)
    cpu = torch.device("cpu")
    mse = reconstruction_mse(encoder, decoder, images, val_idx, cpu)
    real_codes = encode(encoder, images, val_idx, cpu).numpy()
    z = torch.randn(count, checkpoint["arch"]["z_dim"], generator=torch.Generator().manual_seed(1))
    fake_codes = approximator(z)
    samples = torch.cat([decoder(chunk) for chunk in fake_codes.split(500)]).numpy()
    real = images[torch.from_numpy(val_idx)].numpy().transpose(0, 3, 1, 2) / 127.5 - 1
    validations = [r for r in read_metrics(run) if "val_mse_raw" in r]
    return {
        "run": str(run),
        "schedule": options["schedule"],
        "steps": checkpoint["state"]["step"],
        "approx_steps": checkpoint["state"]["approx_step"],
        "val_mse": round(mse, 5),
        "val_mse_raw_last": round(validations[-1]["val_mse_raw"], 5) if validations else None,
        "val_mse_ema_last": round(validations[-1]["val_mse"], 5) if validations else None,
        "pixel_fd": round(frechet_distance_between(samples.reshape(count, -1), real.reshape(len(real), -1)), 2),
        "latent_fd_std": round(latent_frechet(fake_codes.numpy(), real_codes), 3),
        "held_out_images": len(val_idx),
        "train_minutes": round(checkpoint["state"]["train_seconds"] / 60, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-n", "--samples", type=int, default=5000)
    args = parser.parse_args()
    for run in args.runs:
        print(json.dumps(evaluate(run, args.samples)), flush=True)


if __name__ == "__main__":
    main()
