"""Inference benchmark (issue #3): the torch-free CLI against a PyTorch script, decoder throughput against
the CPU's matmul peak, and a cold ``aaae edit``.

    python tests/bench/inference_cli.py                          # trains + exports a 64x64x3 model first
    python tests/bench/inference_cli.py --run RUN --bundle DIR   # or uses yours

1. ``aaae sample -n 64 out.png`` as a fresh process against ``inference_torch_baseline.py`` (loads the
   checkpoint, samples, writes the same grid), interleaved, median of ``--repeats``; then each one's stages
   (interpreter start, imports, opening the model, sessions, decoding, PNG) timed inside fresh processes.
2. Decoder throughput (onnxruntime, batch 64, warm) against the peak of this CPU: the faster of a
   2048x2048 fp32 matmul in numpy and in onnxruntime; each contender in its own process, alternated. FLOPs: the
   usual count (``torch.utils.flop_counter``: every kernel tap, padding included) and the useful count
   (taps that land in the image); both ratios are reported. The plain ConvTranspose export and eager
   PyTorch are timed too, for reference.
3. ``aaae edit face.jpg --attr male`` as a fresh process (target: under 1 s).

The model's weights do not change any timing: the default model is trained for a few steps only
(paper width, 64x64 RGB, on ``../shared/data/celeba``), enough for a real checkpoint and export.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BASELINE = Path(__file__).with_name("inference_torch_baseline.py")
FACE = ROOT / "tests" / "data" / "astronaut.jpg"
AAAE = [sys.executable, "-m", "aaae_cli"]

CLI_STAGES = """
import time, sys, json
start = time.perf_counter()
import aaae_cli.cli
t_cli = time.perf_counter()
from aaae_cli.api import Model
from aaae_cli.images import make_grid, save_image
t_rt = time.perf_counter()
model = Model.load(sys.argv[1])
t_open = time.perf_counter()
model.graph("approximator"); model.graph("decoder")
t_sess = time.perf_counter()
images = model.sample(64, seed=0)
t_dec = time.perf_counter()
save_image(make_grid(images), sys.argv[2])
t_save = time.perf_counter()
print(json.dumps({"import CLI (typer, rich)": t_cli - start, "import runtime (onnxruntime, numpy, PIL)": t_rt - t_cli,
    "open bundle (config, manifest)": t_open - t_rt, "verify + create 2 sessions": t_sess - t_open,
    "sample + decode 64": t_dec - t_sess, "save png": t_save - t_dec}))
"""


def wall(command: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


def stages(command: list[str], repeats: int) -> dict[str, float]:
    runs = [
        json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout) for _ in range(repeats)
    ]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def prepare(work: Path, data: Path, width: float) -> tuple[Path, Path]:
    run, bundle = work / "run", work / "bundle"
    if not (run / "best.pt").is_file():
        print(f"training a {width}-width 64x64x3 model for a few steps on {data} ...", flush=True)
        subprocess.run(
            [*AAAE, "train", str(data), "--out", str(run), "--width", str(width), "--resolution", "64",
             "--max-steps", "10", "--approx-steps", "10", "--batch-size", "32", "--no-progress",
             "--cache-dir", str(work / "cache")],
            check=True,
        )  # fmt: skip
    if not (bundle / "config.json").is_file():
        subprocess.run([*AAAE, "export", str(run), str(bundle), "--force", "--device", "cpu"], check=True)
    return run, bundle


def cold_sample(run: Path, bundle: Path, work: Path, repeats: int) -> dict:
    ours = [*AAAE, "sample", "-n", "64", str(work / "ours.png"), "--seed", "0", "--model", str(bundle)]
    theirs = [sys.executable, str(BASELINE), str(run / "best.pt"), str(work / "torch.png"), "-n", "64"]
    wall(ours), wall(theirs)  # warm the file cache for both
    a, b = [], []
    for _ in range(repeats):
        a.append(wall(ours))
        b.append(wall(theirs))
    interpreter = statistics.median(wall([sys.executable, "-c", "pass"]) for _ in range(repeats))
    return {
        "aaae_s": statistics.median(a),
        "torch_s": statistics.median(b),
        "speedup": statistics.median(b) / statistics.median(a),
        "speedup_of_fastest_runs": min(b) / min(a),
        "aaae_all": a,
        "torch_all": b,
        "python_startup_s": interpreter,
        "aaae_stages": stages([sys.executable, "-c", CLI_STAGES, str(bundle), str(work / "stages.png")], repeats),
        "torch_stages": stages([*theirs, "--stages"], repeats),
    }


def decoder_flops(run: Path, batch: int) -> tuple[float, float]:
    """(counted, useful) FLOPs of one decoder call on ``batch`` codes."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from aaae_train.checkpoint import load_checkpoint
    from aaae_train.networks import ArchConfig, Decoder

    decoder = Decoder(ArchConfig.from_dict(load_checkpoint(run / "best.pt")["arch"])).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        decoder(torch.zeros(batch, decoder.fc[0].in_features))
    useful, size = 2.0 * batch * decoder.fc[0].in_features * decoder.fc[0].out_features, 1
    for layer in decoder.deconvs:
        if isinstance(layer, nn.ConvTranspose2d):  # per axis, 4H - 2 of the 4H (input, tap) pairs land inside
            useful += 2.0 * batch * layer.in_channels * layer.out_channels * (4 * size - 2) ** 2
            size *= 2
    return float(counter.get_total_flops()), useful


def matmul_session(a: np.ndarray) -> Any:
    """An onnxruntime session of one MatMul node, for the peak."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    shape = list(a.shape)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "mm",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


CONTENDERS = ("ours", "plain export", "torch eager", "numpy matmul", "onnxruntime matmul")


def child(kind: str, run: Path, bundle: Path, plain: Path, batch: int, size: int, calls: int = 10) -> float:
    """Median seconds of one call of ``kind``, alone in this process (after 3 warm-up calls)."""
    import onnxruntime as ort

    from aaae_cli.api import Model

    codes = Model.load(bundle, device="cpu").sample_codes(batch, seed=0)
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    if kind == "ours":
        session = Model.load(bundle, device="cpu").graph("decoder").session
        fn = lambda: session.run(None, {"codes": codes})  # noqa: E731
    elif kind == "plain export":
        plain_session = ort.InferenceSession(str(plain), providers=["CPUExecutionProvider"])
        fn = lambda: plain_session.run(None, {"codes": codes})  # noqa: E731
    elif kind == "torch eager":
        import torch

        from aaae_train.checkpoint import load_checkpoint, load_networks

        _, decoder, _ = load_networks(load_checkpoint(run / "best.pt"))
        tensor = torch.from_numpy(codes)
        torch.set_grad_enabled(False)
        fn = lambda: decoder(tensor)  # noqa: E731
    elif kind == "numpy matmul":
        fn = lambda: a @ a  # noqa: E731
    else:
        mm = matmul_session(a)
        fn = lambda: mm.run(None, {"a": a, "b": a})  # noqa: E731
    for _ in range(3):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decoder_throughput(run: Path, bundle: Path, work: Path, batch: int = 64, rounds: int = 5, size: int = 2048) -> dict:
    """Each contender in its own process (threads of one runtime that spin or wait after a call would
    otherwise slow the next one down), alternated round after round; medians."""
    import torch

    from aaae_train.checkpoint import load_checkpoint, load_networks
    from aaae_train.export import export_graph

    plain = work / "plain-decoder.onnx"  # the decoder exported as it is: ConvTranspose + BatchNorm
    _, decoder, _ = load_networks(load_checkpoint(run / "best.pt"))
    export_graph(decoder, torch.zeros(2, decoder.fc[0].in_features), plain, ("codes", "images"))
    times: dict[str, list[float]] = {kind: [] for kind in CONTENDERS}
    for _ in range(rounds):
        for kind in CONTENDERS:
            command = [sys.executable, __file__, "--child", kind, "--run", str(run), "--bundle", str(bundle),
                       "--plain", str(plain), "--batch", str(batch), "--size", str(size)]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            times[kind].append(float(result.stdout.strip().splitlines()[-1]))
    t = {kind: statistics.median(values) for kind, values in times.items()}
    counted, useful = decoder_flops(run, batch)
    flops = 2.0 * size**3
    peak = max(flops / t["numpy matmul"], flops / t["onnxruntime matmul"])
    return {
        "batch": batch,
        "ours_ms": t["ours"] * 1e3,
        "ours_img_s": batch / t["ours"],
        "plain_convtranspose_ms": t["plain export"] * 1e3,
        "torch_eager_ms": t["torch eager"] * 1e3,
        "gflop_counted": counted / 1e9,
        "gflop_useful": useful / 1e9,
        "ours_gflops_counted": counted / t["ours"] / 1e9,
        "ours_gflops_useful": useful / t["ours"] / 1e9,
        "numpy_matmul_gflops": flops / t["numpy matmul"] / 1e9,
        "onnxruntime_matmul_gflops": flops / t["onnxruntime matmul"] / 1e9,
        "time_over_peak_counted": t["ours"] / (counted / peak),
        "time_over_peak_useful": t["ours"] / (useful / peak),
        "all_ms": {kind: [round(v * 1e3, 1) for v in values] for kind, values in times.items()},
    }


def cold_edit(bundle: Path, work: Path, repeats: int) -> dict:
    command = [*AAAE, "edit", str(FACE), "--attr", "male", "-o", str(work / "edit.png"), "--model", str(bundle)]
    wall(command)
    times = [wall(command) for _ in range(repeats)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "all": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="A training run folder (best.pt) [default: train one].")
    parser.add_argument("--bundle", type=Path, help="Its exported bundle [default: export it].")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "aaae-bench-inference")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "celeba")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=2048, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(child(args.child, args.run, args.bundle, args.plain, args.batch, args.size))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    run, bundle = (args.run, args.bundle) if args.run and args.bundle else prepare(args.work, args.data, args.width)
    load_before = os.getloadavg()
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "bundle": str(bundle),
        "cold_sample": cold_sample(run, bundle, args.work, args.repeats),
        "cold_edit": cold_edit(bundle, args.work, args.repeats),
        "decoder": decoder_throughput(run, bundle, args.work),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
    }
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
