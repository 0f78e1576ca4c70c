"""The CUDA training path end to end: bf16 autocast, channels-last, ``--compile``, resume, export.

Skipped without a CUDA GPU (CI has none); run on a GPU machine with ``python -m pytest -m cuda`` (the GPU
session script ``scripts/gpu_session.sh`` does). Small networks on the real digits in tests/data, so the
point is the code path, not speed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MNIST

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine: pytest -m cuda)"),
]

SMALL = {"width": 0.125, "batch_size": 64, "lr": 1e-3, "snapshot_every": 50, "progress": False, "workers": 1}


COMPILE_FAILS = pytest.mark.xfail(
    reason="measured 2026-11-27 on an H100, torch 2.11.0+cu130: inductor's convolution backward asserts on strides "
    "(tests/bench/training_speed.md, 'GPU: the first run'); XPASS here means a torch release fixed it",
    strict=False,
)


@pytest.mark.parametrize("compile_nets", [False, pytest.param(True, marks=COMPILE_FAILS)], ids=["eager", "compiled"])
def test_cuda_training_resumes_and_exports(tmp_path: Path, compile_nets: bool) -> None:
    from aaae_train.api import train
    from aaae_train.checkpoint import load_checkpoint
    from aaae_train.export import export_run
    from aaae_train.options import ExportSettings

    run = tmp_path / "run"
    options = {**SMALL, "device": "cuda", "compile": compile_nets, "cache_dir": str(tmp_path / "cache")}
    first = train(MNIST, run, max_steps=100, approx_steps=0, **options)
    assert first.state.step == 100 and first.state.phase == "done"
    second = train(MNIST, run, max_steps=200, approx_steps=200, **options)  # resumes at 100
    assert second.state.step == 200 and second.state.approx_step == 200 and second.state.phase == "done"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    mses = [r["val_mse"] for r in records if "val_mse" in r]
    assert all(np.isfinite(mses)) and mses[-1] < mses[0], mses
    checkpoint = load_checkpoint(run / "last.pt")
    assert checkpoint["options"]["device"] == "cuda"
    bundle = tmp_path / "bundle"
    export_run(run, bundle, ExportSettings(device="cuda"))
    config = json.loads((bundle / "config.json").read_text())
    assert config["metrics"]["val_mse_onnx"] == pytest.approx(config["metrics"]["val_mse"], rel=1e-3)

    import aaae_cli

    samples = aaae_cli.load(bundle).sample(8, seed=0)
    assert samples.shape == (8, 32, 32, 1) and samples.std() > 5


def test_cuda_step_uses_bf16_and_channels_last() -> None:
    from aaae_train.algorithm import AAAETraining
    from aaae_train.distributed import DistInfo
    from aaae_train.networks import build_networks
    from aaae_train.options import TrainOptions

    opts = TrainOptions(data=[], out="", resolution=64, channels=3, width=0.25, device="cuda")
    model = AAAETraining(build_networks(opts.arch()), opts, torch.device("cuda"), DistInfo())
    conv = next(m for m in model.nets.encoder.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    seen: list[torch.dtype] = []
    handle = conv.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    x = torch.rand(8, 3, 64, 64, device="cuda") * 2 - 1
    _codes, recon, stats = model.autoencoder_step(x)
    handle.remove()
    assert seen == [torch.bfloat16]
    assert recon.shape == x.shape and all(bool(torch.isfinite(torch.as_tensor(v)).all()) for v in stats.values())
