"""Approximator settings compared on one trained autoencoder: the paper's against aaae's defaults.

Fresh approximators and latent critics are trained on the frozen encoder codes of a finished run (its
training split), with the project's own update (:meth:`AAAETraining.approximator_round`), one setting per
model, interleaved in slices of wall time so that machine load hits them alike. At each report time
every approximator is judged on decoded samples by an evaluator classifier: the Inception-score
analogue (IS) and the Frechet distance in its feature space to the run's held-out images (FD; not FID).

Settings:
- ``paper``: Adam 1e-4 (beta 0.5, 0.9), 1 critic step per approximator step, raw codes;
- ``aaae``: the defaults of ``aaae train``: Adam 3e-4, 2 critic steps, standardised codes;
- ``aaae-wide`` / ``aaae-deep``: the same with 1024-wide (instead of 512) or 4-layer MLPs.

    python tests/bench/approximator_settings.py runs/digits --evaluator models/evaluator-digits \
        --seconds 900 --reports 5
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from aaae_cli.data.sources import detect_source
from aaae_cli.evaluation.evaluate import Evaluator
from aaae_cli.evaluation.metrics import frechet_distance_between, inception_score
from aaae_train.algorithm import AAAETraining
from aaae_train.checkpoint import load_checkpoint, sampling_weights
from aaae_train.data import Preprocessing, default_cache_dir, load_dataset
from aaae_train.distributed import DistInfo
from aaae_train.networks import ArchConfig, build_networks
from aaae_train.options import TrainOptions
from aaae_train.snapshots import encode

SETTINGS = {
    "paper": {"approx_lr": 1e-4, "critic_steps": 1, "standardize_codes": False},
    "aaae": {"approx_lr": 3e-4, "critic_steps": 2, "standardize_codes": True},
}
# Settings that also change the approximator and critic MLPs (hidden width, layers).
WIDER = {"aaae-wide": ("aaae", {"approx_hidden": 1024}), "aaae-deep": ("aaae", {"approx_layers": 4})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--evaluator", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=900, help="wall time per setting")
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--slice", type=float, default=2.0, help="seconds per turn of the interleaving")
    parser.add_argument("--settings", nargs="+", default=["paper", "aaae"], choices=[*SETTINGS, *WIDER])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    torch.set_grad_enabled(True)
    checkpoint = load_checkpoint(args.run / "best.pt")
    options = TrainOptions.from_dict(checkpoint["options"])
    prep = checkpoint["data"]["preprocessing"]
    sources = [detect_source(p, options.dataset, options.labels) for p in options.data]
    cache = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
    dataset = load_dataset(sources, Preprocessing(prep["resolution"], prep["channels"], prep["crop"]), cache)
    train_idx, val_idx = dataset.split(options.val_fraction)
    images = torch.from_numpy(np.ascontiguousarray(dataset.images))
    cpu = torch.device("cpu")
    arch = ArchConfig.from_dict(checkpoint["arch"])

    judge = Evaluator(args.evaluator, "cpu")
    _, real_features = judge.run(dataset.images[val_idx])
    models: dict[str, AAAETraining] = {}
    codes: torch.Tensor | None = None
    for name in args.settings:
        base, arch_change = WIDER.get(name, (name, {}))
        torch.manual_seed(0)
        setting = replace(options, **SETTINGS[base])
        model = AAAETraining(build_networks(replace(arch, **arch_change)), setting, cpu, DistInfo())
        for part in ("encoder", "decoder"):
            getattr(model.nets, part).load_state_dict(sampling_weights(checkpoint, part))
            getattr(model.nets, part).eval()
        if codes is None:
            with torch.no_grad():
                codes = encode(model.nets.encoder, images, train_idx, cpu)
        model.set_code_stats(codes)
        models[name] = model
    assert codes is not None
    z = torch.randn(args.samples, arch.z_dim, generator=torch.Generator().manual_seed(1))

    def judge_samples(model: AAAETraining) -> dict[str, float]:
        with torch.no_grad():
            fake = model.nets.approximator(z)
            pixels = torch.cat([model.nets.decoder(chunk) for chunk in fake.split(500)])
        uint8 = ((pixels.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        probs, features = judge.run(uint8)
        score = inception_score(probs)[0] if not judge.multilabel else float("nan")
        return {"is": round(score, 3), "fd": round(frechet_distance_between(features, real_features), 2)}

    reals = {name: model.nets.approximator.standardize(codes) for name, model in models.items()}
    spent = dict.fromkeys(models, 0.0)
    steps = dict.fromkeys(models, 0)
    rows = []
    for report in range(1, args.reports + 1):
        until = args.seconds * report / args.reports
        while min(spent.values()) < until:
            for name, model in models.items():
                if spent[name] >= until:
                    continue
                started = time.perf_counter()
                while time.perf_counter() - started < args.slice:
                    pick = torch.randint(len(codes), (options.batch_size,), generator=model.noise)
                    model.approximator_round(reals[name][pick])
                    steps[name] += 1
                spent[name] += time.perf_counter() - started
        for name, model in models.items():
            row = {"setting": name, "seconds": round(spent[name]), "steps": steps[name], **judge_samples(model)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"run": str(args.run), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
