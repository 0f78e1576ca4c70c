"""Does matching the sampler's code moments help, and which correction? Judged on decoded samples.

    python tests/bench/moment_matching.py --model runs/bundle-approx2 --data ../shared/data/celeba \
        --evaluator models/evaluator-faces --evaluator runs/evaluator-faces-judge2 \
        --exported runs/bundle-approx2-mm

``--model`` is a bundle whose approximator was exported as trained (``aaae export --no-match-moments``, or
before matching existed). Its samples are corrected in code space with moments fitted on the codes of the
images ``aaae eval`` fits its baselines on (the training split, framed as the model frames photos) and on 50,000
approximator samples of another seed, four ways: the mean only, a per-dimension scale, the full Gaussian
optimal-transport map (the map ``aaae export`` folds into the approximator, :mod:`aaae_train.moments`) and half
of it; ``--exported`` adds the samples of the same run exported with matching (that map fitted by ``aaae export``
on the training split's codes as training prepared them). Each set of 10,000 samples (``aaae eval``'s noise) is
decoded and judged by every ``--evaluator``: Frechet distance of its features against the held-out images (as
``aaae eval``), and for single-label evaluators the Inception-score analogue and the share of samples read with
less than 90% confidence.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import aaae_cli
from aaae_cli.evaluation.evaluate import Evaluator, load_eval_data
from aaae_cli.evaluation.metrics import frechet_distance_between, inception_score
from aaae_train.moments import FIT_SAMPLES, gaussian_transport


def corrections(samples: np.ndarray, fit: np.ndarray, codes: np.ndarray) -> dict[str, np.ndarray]:
    """``samples`` corrected with moments of ``fit`` (other approximator samples) towards ``codes``'."""
    transport, shift = gaussian_transport(fit, codes)
    mean, target = fit.mean(0), codes.mean(0)
    scale = codes.std(0) / fit.std(0)
    half = (transport + np.eye(len(transport))) / 2
    return {
        "as trained": samples,
        "mean only": samples - mean + target,
        "per-dimension scale": (samples - mean) * scale + target,
        "half the transport map": (samples - mean) @ half.T + target,
        "Gaussian transport map (aaae export)": samples @ transport.T + shift,
    }


def judge(model: aaae_cli.Model, evaluator: Evaluator, codes: np.ndarray, real: np.ndarray) -> dict:
    images = model.decode(codes.astype(np.float32))  # the decoder runs in batches itself
    probabilities, features = evaluator.run(images)
    out = {"fd": round(frechet_distance_between(features, real), 3)}
    if not evaluator.multilabel:
        out["is"] = round(inception_score(probabilities)[0], 3)
        out["unsure"] = round(float((probabilities.max(1) < 0.9).mean()), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--evaluator", action="append", required=True, help="evaluator folder (repeat)")
    parser.add_argument("--exported", help="also judge this bundle's samples: the same run exported with matching")
    parser.add_argument("-n", type=int, default=10_000, help="samples per set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    model = aaae_cli.load(args.model, device="cpu")
    data = load_eval_data(args.data, None, model, "val", 10_000, 20_000, 0)
    codes = model.encode(data.training).astype(np.float64)
    fit = model.sample_codes(FIT_SAMPLES, seed=12345).astype(np.float64)
    sets = corrections(model.sample_codes(args.n, seed=0).astype(np.float64), fit, codes)
    if args.exported:  # matched by aaae export on the run's own training codes (decoded by this model's decoder)
        sets["as exported with matching"] = aaae_cli.load(args.exported, device="cpu").sample_codes(args.n, seed=0)
    report: dict = {
        "model": args.model,
        "held_out_images": len(data.held_out),
        "training_codes": len(codes),
        "spread_before": round(float(np.trace(np.cov(fit, rowvar=False)) / np.trace(np.cov(codes, rowvar=False))), 4),
        "sets": {name: {} for name in sets},
    }
    for folder in args.evaluator:
        evaluator, judge_name = Evaluator(Path(folder), "cpu"), Path(folder).name
        real = evaluator.run(data.held_out)[1]
        for name, sampled in sets.items():
            report["sets"][name][judge_name] = judge(model, evaluator, sampled, real)
            print(f"{judge_name:>28}  {name:<38} {report['sets'][name][judge_name]}", flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
