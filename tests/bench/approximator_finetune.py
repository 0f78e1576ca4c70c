"""Does more of the same buy sample quality? Continue a finished run's approximator and judge it.

The shipped ``digits`` approximator stopped at 100,000 steps with classifier IS 9.30 (target 9.5). This
continues its approximator and latent critic from the run's ``last.pt`` (weights, Adam states, noise)
on the frozen encoder's training codes, with the project's own update (:meth:`AAAETraining.approximator_round`),
under one change at a time, and every ``--every`` steps judges 10,000 decoded samples with an
evaluator classifier (IS, and the share of samples it reads with less than 90% confidence):

- ``--schedule decay``: the learning rates fall linearly to 0 over the steps (``const``: unchanged);
- ``--batch``: codes per step (the run's 100 by default);
- ``--critic-steps``: critic updates per approximator update (the run's 2 by default).

Two EMA copies of the approximator are judged besides the raw weights: the run's own (decay 0.999,
continued) and a fresh, longer one (0.9999). Nothing is written to the run folder.

    python tests/bench/approximator_finetune.py runs/digits-long --schedule decay --steps 20000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from aaae_cli.evaluation.evaluate import Evaluator
from aaae_cli.evaluation.metrics import inception_score
from aaae_train.algorithm import AAAETraining, ema_with_warmup
from aaae_train.checkpoint import load_checkpoint, load_networks
from aaae_train.distributed import DistInfo
from aaae_train.export import load_run_data
from aaae_train.networks import ArchConfig, build_networks
from aaae_train.options import TrainOptions
from aaae_train.snapshots import encode


def training_codes(checkpoint: dict) -> torch.Tensor:
    """The frozen encoder's (EMA) codes of the run's training split."""
    dataset = load_run_data(checkpoint)
    train_idx, _ = dataset.split(checkpoint["options"]["val_fraction"])
    encoder, _, _ = load_networks(checkpoint)
    with torch.no_grad():
        return encode(encoder, torch.from_numpy(np.array(dataset.images)), train_idx, torch.device("cpu"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--evaluator", type=Path, default=Path("models/evaluator-digits"))
    parser.add_argument("--schedule", choices=("const", "decay"), default="const")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=5_000)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--critic-steps", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)

    checkpoint = load_checkpoint(args.run / "last.pt")
    opts = TrainOptions.from_dict(checkpoint["options"])
    opts.batch_size = args.batch or opts.batch_size
    opts.critic_steps = args.critic_steps or opts.critic_steps
    arch = ArchConfig.from_dict(checkpoint["arch"])
    model = AAAETraining(build_networks(arch), opts, torch.device("cpu"), DistInfo())
    model.load_state_dict(checkpoint)
    _, decoder, _ = load_networks(checkpoint)
    real = model.nets.approximator.standardize(training_codes(checkpoint))
    averages = {
        "ema0.999": AveragedModel(model.nets.approximator, multi_avg_fn=ema_with_warmup(0.999), use_buffers=True),
        "ema0.9999": AveragedModel(model.nets.approximator, multi_avg_fn=ema_with_warmup(0.9999), use_buffers=True),
    }
    averages["ema0.999"].load_state_dict(checkpoint["ema"]["approximator"])
    judge = Evaluator(args.evaluator, "cpu")
    z = torch.randn(10_000, checkpoint["arch"]["z_dim"], generator=torch.Generator().manual_seed(7))

    @torch.no_grad()
    def score(approximator: torch.nn.Module) -> list[float]:
        codes = approximator(z)
        images = [
            ((decoder(chunk).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
            for chunk in codes.split(500)
        ]
        probs, _ = judge.run(np.concatenate(images))
        return [round(inception_score(probs)[0], 3), round(float((probs.max(1) < 0.9).mean()), 4)]

    setting = {"schedule": args.schedule, "batch": opts.batch_size, "critic_steps": opts.critic_steps}
    print(json.dumps({**setting, "step": 0, "ema0.999": score(averages["ema0.999"].module)}), flush=True)
    optimizers = (model.optimizers["approximator"], model.optimizers["critic"])
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        if args.schedule == "decay":
            for optimizer in optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = opts.approx_lr * (1 - step / args.steps)
        pick = torch.randint(len(real), (opts.batch_size,), generator=model.noise)
        model.approximator_round(real[pick])
        for average in averages.values():
            average.update_parameters(model.nets.approximator)
        if step % args.every == 0:
            report = {name: score(average.module) for name, average in averages.items()}
            minutes = round((time.perf_counter() - start) / 60, 1)
            print(
                json.dumps(
                    {**setting, "step": step, "minutes": minutes, **report, "raw": score(model.nets.approximator)}
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
