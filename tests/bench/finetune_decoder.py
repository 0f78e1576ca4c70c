"""Fine-tune a bundle's decoder on the CPU, its encoder frozen, and write the result as a new bundle.

    python tests/bench/finetune_decoder.py --model models/faces --data faces-aligned.zip \
        --out runs/faces-ft --minutes 60 --lambda-adv 0.001

Why: the built-in ``faces`` samples score FID 59 against a floor of 27, and the gap is the decoder's softness
(tests/bench/table_i.md, "How much of the faces' FID is softness"); its training checkpoint is gone, so the
decoder is rebuilt from its graph (:mod:`aaae_train.from_bundle`) and trained further with the paper's
autoencoder loss (reconstruction MSE + ``--lambda-adv`` x the non-saturating loss of a patch discriminator, new
and warmed up first) on the codes the bundle's own encoder gives its training images. The encoder is not
trained, so the approximator, the attribute directions and the calibrations keep meaning what they meant; what
changes is only how codes are drawn. ``--data`` must be what the model was trained on (the same keys, so the same
held-out split: the held-out images are never trained on; their MSE is logged).

The run is resumable: ``OUT/finetune.pt`` is saved every few minutes and at the end, and a second call with the
same ``--out`` continues until ``--minutes`` of training in all. The bundle at ``OUT/bundle`` gets the EMA
decoder; ``config.export.decoder_finetune`` records what was done. Judge it with ``aaae eval --fid``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from aaae_cli.api import Model
from aaae_cli.bundle.folder import Bundle
from aaae_cli.bundle.writer import save_bundle
from aaae_cli.data.sources import detect_source
from aaae_cli.errors import UserError
from aaae_cli.runtime import Graph
from aaae_train.algorithm import frozen
from aaae_train.checkpoint import load_checkpoint, save_checkpoint
from aaae_train.data import Preprocessing, default_cache_dir, load_dataset
from aaae_train.from_bundle import bundle_arch, decoder_from_graph, freeze_batchnorm, save_decoder_graph
from aaae_train.networks import PatchDiscriminator
from aaae_train.snapshots import to_model_input

SAVE_EVERY_S = 300
CODE_BATCH = 256


CPU = torch.device("cpu")


@torch.no_grad()
def _decoded(decoder: torch.nn.Module, codes: np.ndarray) -> np.ndarray:
    """``decoder``'s images of ``codes`` as :meth:`Model.decode_float` gives a graph's: float NHWC in [-1, 1]."""
    decoder.eval()
    parts = [decoder(torch.from_numpy(codes[i : i + CODE_BATCH])) for i in range(0, len(codes), CODE_BATCH)]
    return torch.cat(parts).permute(0, 2, 3, 1).numpy()


def _mse(decoded: np.ndarray, images: np.ndarray) -> float:
    """Per-pixel MSE with pixels in [0, 1] (a quarter of the [-1, 1] error), as ``aaae eval`` reports it."""
    return float(np.mean(np.square(decoded - (images.astype(np.float32) / 127.5 - 1.0)))) / 4.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="bundle folder whose decoder is fine-tuned")
    parser.add_argument("--data", type=Path, required=True, help="the data the model was trained on")
    parser.add_argument("--out", type=Path, required=True, help="folder: finetune.pt, log.jsonl, bundle/")
    parser.add_argument("--minutes", type=float, default=60.0, help="training time in all (resumed runs add up)")
    parser.add_argument("--lambda-adv", type=float, default=0.001, help="the adversarial weight (paper: 0.001)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate of both networks")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=300, help="discriminator-only steps before the decoder's")
    parser.add_argument("--ema", type=float, default=0.999, help="EMA decay of the decoder weights written out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = Model.load(args.model, device="cpu")
    bundle = model.bundle
    arch = bundle_arch(bundle)
    options = (bundle.config.training.options or {}) if bundle.config.training else {}
    prep = Preprocessing(arch.resolution, arch.channels, float(options.get("crop", 1.0)), options.get("align", "none"))
    dataset = load_dataset([detect_source(args.data)], prep, default_cache_dir())
    train_idx, val_idx = dataset.split(float(options.get("val_fraction", 0.05)))
    recorded = bundle.config.training.data
    if recorded and (recorded.train_images, recorded.val_images) != (len(train_idx), len(val_idx)):
        raise UserError(
            f"--data {args.data}: splits into {len(train_idx)} + {len(val_idx)} images; the model was trained on "
            f"{recorded.train_images} + {recorded.val_images}: not the data it was trained on"
        )
    images = np.asarray(dataset.images)
    print(f"encoding {len(images)} images with the bundle's encoder", flush=True)
    train_codes = torch.from_numpy(model.encode(images[train_idx]))
    val_images = images[val_idx]
    val_codes = model.encode(val_images)

    args.out.mkdir(parents=True, exist_ok=True)
    decoder = decoder_from_graph(bundle.graph_bytes("decoder"), arch)
    ema = copy.deepcopy(decoder).eval().requires_grad_(False)
    discriminator = PatchDiscriminator(arch)
    opt_g = torch.optim.Adam(decoder.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    state_path, log_path = args.out / "finetune.pt", args.out / "log.jsonl"
    step, seconds, logged_step, val_mse = 0, 0.0, -1, float("nan")
    if state_path.is_file():
        state = load_checkpoint(state_path)
        for module, name in ((decoder, "decoder"), (ema, "ema"), (discriminator, "discriminator")):
            module.load_state_dict(state[name])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        step, seconds = state["step"], state["seconds"]
        print(f"resumed at step {step} ({seconds / 60:.1f} min trained)", flush=True)
    else:
        start_mse = _mse(_decoded(decoder, val_codes), val_images)
        with log_path.open("a") as log:
            log.write(json.dumps({"step": 0, "minutes": 0.0, "val_mse": start_mse}) + "\n")
        print(f"held-out MSE before: {start_mse:.5f}", flush=True)

    def save() -> None:
        save_checkpoint(
            {"decoder": decoder.state_dict(), "ema": ema.state_dict(), "discriminator": discriminator.state_dict(),
             "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step, "seconds": seconds,
             "args": {k: str(v) for k, v in vars(args).items()}},
            state_path,
        )  # fmt: skip

    rng = np.random.default_rng(args.seed + step)
    started, last_save, sums = time.monotonic(), time.monotonic(), {"rec": 0.0, "adv": 0.0, "d": 0.0, "n": 0}
    base_seconds = seconds
    while seconds < args.minutes * 60:
        pick = rng.integers(0, len(train_idx), args.batch)
        x = to_model_input(torch.from_numpy(images[train_idx[pick]]), CPU)
        codes = train_codes[pick]
        decoder.train()
        freeze_batchnorm(decoder)
        if step >= args.warmup:
            recon = decoder(codes)
            rec_loss = F.mse_loss(recon, x)
            with frozen(discriminator):
                adv_loss = F.softplus(-discriminator(recon)).mean()
            opt_g.zero_grad(set_to_none=True)
            (rec_loss + args.lambda_adv * adv_loss).backward()
            opt_g.step()
            with torch.no_grad():
                for averaged, current in zip(ema.parameters(), decoder.parameters(), strict=True):
                    averaged.lerp_(current, 1.0 - args.ema)
            sums["rec"] += float(rec_loss.detach())
            sums["adv"] += float(adv_loss.detach())
            recon = recon.detach()
        else:
            with torch.no_grad():
                recon = decoder(codes)
        d_loss = F.softplus(-discriminator(x)).mean() + F.softplus(discriminator(recon)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        sums["d"] += float(d_loss.detach())
        sums["n"] += 1
        step += 1
        seconds = base_seconds + time.monotonic() - started
        if time.monotonic() - last_save > SAVE_EVERY_S or seconds >= args.minutes * 60:
            n = max(sums["n"], 1)
            val_mse, logged_step = _mse(_decoded(ema, val_codes), val_images), step
            record = {"step": step, "minutes": round(seconds / 60, 2), "val_mse": val_mse,
                      "loss_rec": sums["rec"] / n, "loss_adv": sums["adv"] / n, "loss_d": sums["d"] / n}  # fmt: skip
            with log_path.open("a") as log:
                log.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)
            sums = {"rec": 0.0, "adv": 0.0, "d": 0.0, "n": 0}
            save()
            last_save = time.monotonic()
    if logged_step != step:  # resumed after the end: not measured in this call yet
        val_mse = _mse(_decoded(ema, val_codes), val_images)
    graph = args.out / "decoder.onnx"
    save_decoder_graph(ema, arch, graph)
    lowered = Graph("decoder", graph.read_bytes(), "cpu").run(val_codes).transpose(0, 2, 3, 1)
    write_bundle(args, bundle, graph, step, seconds, (val_mse, _mse(lowered, val_images)))


def write_bundle(
    args: argparse.Namespace, bundle: Bundle, graph: Path, step: int, seconds: float, val_mse: tuple[float, float]
) -> None:
    """The bundle with the decoder graph at ``graph``, its held-out MSE (PyTorch, the graph) and the fine-tune
    recorded."""
    config = bundle.config
    record = {
        **(config.export or {}),
        "decoder_finetune": {
            "date": datetime.date.today().isoformat(),
            "script": "tests/bench/finetune_decoder.py",
            "steps": step,
            "minutes": round(seconds / 60, 1),
            "lambda_adv": args.lambda_adv,
            "lr": args.lr,
            "batch": args.batch,
            "val_mse": val_mse[1],
            "note": "encoder, approximator, directions and calibrations are the original bundle's",
        },
    }
    metrics = {**(config.metrics or {}), "val_mse": val_mse[0], "val_mse_onnx": val_mse[1]}
    new_config = dataclasses.replace(config, export=record, metrics=metrics)
    save_bundle(bundle, new_config, args.out / "bundle", changed={config.graphs["decoder"].file: graph.read_bytes()})
    print(f"wrote {args.out / 'bundle'} (held-out MSE {val_mse[1]:.5f})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
