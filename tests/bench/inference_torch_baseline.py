"""The PyTorch baseline for ``aaae sample``: load the training checkpoint and sample a grid, as one would
without the ONNX runtime (used by ``inference_cli.py``, which times both as cold processes).

    python tests/bench/inference_torch_baseline.py runs/faces/best.pt out.png -n 64 --seed 0 [--stages]

``--stages`` prints the time of each stage (imports, checkpoint, networks, sampling, PNG) as JSON.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import torch  # noqa: E402

T_TORCH = time.perf_counter()

from aaae_cli.images import make_grid, save_png, to_uint8  # noqa: E402
from aaae_train.checkpoint import load_checkpoint  # noqa: E402
from aaae_train.networks import Approximator, ArchConfig, Decoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("-n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stages", action="store_true")
    args = parser.parse_args()
    t_imports = time.perf_counter()
    ckpt = load_checkpoint(args.checkpoint)
    t_load = time.perf_counter()
    cfg = ArchConfig.from_dict(ckpt["arch"])
    decoder, approximator = Decoder(cfg), Approximator(cfg)  # only the two networks sampling needs
    for name, net in (("decoder", decoder), ("approximator", approximator)):  # EMA weights, as exported
        ema = ckpt["ema"].get(name)
        state = {k.removeprefix("module."): v for k, v in ema.items() if k != "n_averaged"} if ema else None
        net.load_state_dict(state or ckpt["models"][name])
        net.eval()
    t_build = time.perf_counter()
    with torch.no_grad():
        z = torch.randn(args.n, ckpt["arch"]["z_dim"], generator=torch.Generator().manual_seed(args.seed))
        images = to_uint8(decoder(approximator(z)).numpy())
    t_sample = time.perf_counter()
    save_png(make_grid(images), args.out)
    t_save = time.perf_counter()
    if args.stages:
        stages = {
            "import torch": T_TORCH - START,
            "import the rest": t_imports - T_TORCH,
            "load checkpoint": t_load - t_imports,
            "build networks": t_build - t_load,
            "sample + decode": t_sample - t_build,
            "save png": t_save - t_sample,
        }
        print(json.dumps(stages))


if __name__ == "__main__":
    main()
