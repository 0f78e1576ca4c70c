"""Training throughput benchmark: images/s of one full AAAE iteration, against a plain baseline.

One iteration = autoencoder step + patch-discriminator step + k=2 approximator rounds (Algorithm 1,
joint schedule), batch 100, paper width. ``aaae_train``'s implementation and a straightforward
PyTorch implementation of the same iteration (written below the way one would from the paper: each
network called separately, discriminator gradients computed and thrown away in the autoencoder step,
real and fake images in separate discriminator passes) run side by side, interleaved, in one process.
Both are timed on the same networks' shapes; the FLOPs of one iteration come from
``torch.utils.flop_counter`` and are compared with a large matmul's measured FLOP/s on this device.

    python tests/bench/train_throughput.py                 # CPU: 32x32x1 and 64x64x3
    python tests/bench/train_throughput.py --device cuda   # GPU: bf16 autocast, channels-last
    python tests/bench/train_throughput.py --device cuda --sizes 64x3 --batches 100,512 --iters 20
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from aaae_train.algorithm import AAAETraining
from aaae_train.distributed import DistInfo
from aaae_train.networks import build_networks
from aaae_train.options import TrainOptions


def ours(opts: TrainOptions, device: torch.device) -> Callable[[torch.Tensor], None]:
    model = AAAETraining(build_networks(opts.arch()), opts, device, DistInfo())

    def iteration(x: torch.Tensor) -> None:
        codes, recon, _ = model.autoencoder_step(x)
        model.discriminator_step(x, recon)
        model.update_code_stats(codes)
        real = model.nets.approximator.standardize(codes)
        for _ in range(opts.approx_k):
            model.approximator_round(real)
        model.ema_update()

    return iteration


def baseline(opts: TrainOptions, device: torch.device) -> Callable[[torch.Tensor], None]:
    """The same iteration, written plainly (no EMA, no code standardisation)."""
    nets = build_networks(opts.arch())
    enc, dec, disc, approx, critic = (m.to(device) for m in nets.named().values())
    adam = lambda params, lr, b2: torch.optim.Adam(params, lr=lr, betas=(0.5, b2))  # noqa: E731
    opt_ae = adam([*enc.parameters(), *dec.parameters()], opts.lr, 0.999)
    opt_d = adam(disc.parameters(), opts.lr, 0.999)
    opt_g = adam(approx.parameters(), opts.approx_lr, 0.9)
    opt_c = adam(critic.parameters(), opts.approx_lr, 0.9)
    bce = F.binary_cross_entropy_with_logits

    def iteration(x: torch.Tensor) -> None:
        codes = enc(x)
        recon = dec(codes)
        fake_logits = disc(recon)
        loss = F.mse_loss(recon, x) + opts.lambda_adv * bce(fake_logits, torch.ones_like(fake_logits))
        opt_ae.zero_grad()
        loss.backward()
        opt_ae.step()
        real_logits, fake_logits = disc(x), disc(recon.detach())
        loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        real = codes.detach()
        for _ in range(opts.approx_k):
            fake = approx(torch.randn(len(x), opts.z_dim, device=device)).detach()
            eps = torch.rand(len(x), 1, device=device)
            mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
            gp = ((grad.norm(2, dim=1) - 1) ** 2).mean()
            loss_c = critic(fake).mean() - critic(real).mean() + opts.lambda_gp * gp
            opt_c.zero_grad()
            loss_c.backward()
            opt_c.step()
            loss_g = -critic(approx(torch.randn(len(x), opts.z_dim, device=device))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()

    return iteration


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    """FLOP/s of a large square matmul: what this device can do at best."""
    n = 4096 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps = 50 if device.type == "cuda" else 5
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(
    resolution: int, channels: int, device: torch.device, repeats: int, iters: int, batch: int = 100, width: float = 1.0
) -> dict:
    opts = TrainOptions(
        data=[], out="", resolution=resolution, channels=channels, schedule="joint", batch_size=batch, width=width
    )
    torch.manual_seed(0)
    x = (torch.rand(opts.batch_size, channels, resolution, resolution, device=device) * 2 - 1).contiguous(
        memory_format=torch.channels_last if device.type == "cuda" else torch.contiguous_format
    )
    runs = {"aaae": ours(opts, device), "baseline": baseline(opts, device)}
    with FlopCounterMode(display=False) as counter:
        runs["aaae"](x)
    flops = counter.get_total_flops()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm-up (and cuDNN autotuning)
        for _ in range(2):
            fn(x)
    for _ in range(repeats):
        for name, fn in runs.items():
            sync(device)
            start = time.perf_counter()
            for _ in range(iters):
                fn(x)
            sync(device)
            times[name].append((time.perf_counter() - start) / iters)
    peak = matmul_peak(device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    result: dict = {
        "resolution": resolution,
        "channels": channels,
        "batch": opts.batch_size,
        "width": width,
        "gflop_per_iteration": round(flops / 1e9, 2),
        "peak_matmul_tflops": round(peak / 1e12, 3),
    }
    for name, samples in times.items():
        seconds = statistics.median(samples)
        result[f"{name}_img_per_s"] = round(opts.batch_size / seconds, 1)
        result[f"{name}_fraction_of_peak"] = round(flops / seconds / peak, 3)
    result["speedup_vs_baseline"] = round(result["aaae_img_per_s"] / result["baseline_img_per_s"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="32x1,64x3", help="resolution x channels, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--batches", default="100", help="batch sizes, comma-separated (the paper: 100)")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 = the paper's networks)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
    }
    print(json.dumps(info))
    for size in args.sizes.split(","):
        resolution, channels = (int(v) for v in size.split("x"))
        for batch in (int(b) for b in args.batches.split(",")):
            result = measure(resolution, channels, device, args.repeats, args.iters, batch, args.width)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
