"""Put a longer-trained approximator into a shipped bundle: the same autoencoder, a better sampler.

    python scripts/swap_approximator.py models/faces runs/bundle-approx2

The approximator trains on the frozen encoder's codes (``aaae train --autoencoder-from`` or a resumed run with
more ``--approx-steps``), so a bundle exported from the longer run differs from the shipped one only in
``approximator.onnx``. Everything measured on the encoder's codes (attribute directions, calibrated and photo
strengths, the landmark template, card notes on edits and reconstructions) stays valid; re-exporting would
recompute or drop it. This script checks that the two bundles' encoders and decoders give the same outputs, then
writes the shipped bundle again through the one bundle writer with the other's ``approximator.onnx`` and sample
grid, and the config records that belong to the approximator (its latent FD, its export check and moment
matching, the training steps and options). Sample-quality notes on the card must be measured again (``aaae eval``)
and rewritten.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

import aaae_cli
from aaae_cli.bundle.config import BundleConfig
from aaae_cli.bundle.folder import SAMPLE, Bundle
from aaae_cli.bundle.writer import save_bundle
from aaae_cli.errors import UserError

APPROXIMATOR = "approximator.onnx"
PORTRAITS = Path(__file__).resolve().parents[1] / "tests" / "data"


def same_autoencoder(shipped: Path, other: Path) -> tuple[Bundle, Bundle]:
    """The two bundles; raises unless both encode real faces and decode codes to the very same outputs."""
    a, b = aaae_cli.load(shipped, device="cpu"), aaae_cli.load(other, device="cpu")
    images = np.stack([np.asarray(a.prepare(p)) for p in sorted(PORTRAITS.glob("*.jpg"))])
    codes = a.encode(images)
    if not np.array_equal(codes, b.encode(images)):
        raise UserError(f"{other}: its encoder differs from {shipped}'s")
    noise = np.random.default_rng(0).standard_normal((16, a.c_dim)).astype(np.float32) * codes.std() + codes.mean()
    for probe in (codes, noise):
        if not np.array_equal(a.decode(probe), b.decode(probe)):
            raise UserError(f"{other}: its decoder differs from {shipped}'s")
    return a.bundle, b.bundle


def swapped_config(shipped: dict, other: dict) -> dict:
    """The shipped config with the other's records of the approximator."""
    config = copy.deepcopy(shipped)
    config["metrics"]["latent_fd"] = other["metrics"]["latent_fd"]
    config["export"]["max_abs_diff"]["approximator"] = other["export"]["max_abs_diff"]["approximator"]
    config["export"].pop("approximator_moments", None)  # whether export matched its moments (aaae_train.moments)
    if "approximator_moments" in other["export"]:
        config["export"]["approximator_moments"] = other["export"]["approximator_moments"]
    for key in ("approx_steps", "options", "arch"):
        config["training"][key] = other["training"][key]
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="the shipped bundle folder, rewritten in place")
    parser.add_argument("other", type=Path, help="a bundle exported from the longer approximator run")
    args = parser.parse_args(argv)
    try:
        shipped, other = same_autoencoder(args.bundle, args.other)
        config = BundleConfig.from_dict(swapped_config(shipped.config.to_dict(), other.config.to_dict()))
        new = {APPROXIMATOR: other.read(APPROXIMATOR), SAMPLE: other.read(SAMPLE)}
        save_bundle(shipped, config, args.bundle, changed=new)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.bundle}: approximator from {args.other} (latent FD {config.metrics['latent_fd']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
