"""Training runs end to end on real MNIST digits: learning, exact resume, kill -9, bad input, DDP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

import aaae_cli
from aaae_train.checkpoint import load_checkpoint
from aaae_train.run_folder import read_metrics
from tests.conftest import ASTRONAUT, MNIST, TINY, assert_user_error, run_cli


def _train(*args: str, cache: Path, **kw: object) -> subprocess.CompletedProcess:
    return run_cli("train", "--cache-dir", str(cache), *TINY, *args, **kw)


@pytest.mark.slow
def test_short_run_learns_to_reconstruct(tmp_path: Path, cache_dir: Path) -> None:
    """150 steps at lr 1e-3 take held-out MSE from ~0.16 (untrained) to ~0.023 (measured); the bar is 0.035."""
    run = tmp_path / "run"
    result = _train(
        str(MNIST),
        "--out",
        str(run),
        "--width",
        "0.25",
        "--lr",
        "1e-3",
        "--max-steps",
        "150",
        "--snapshot-every",
        "50",
        "--approx-steps",
        "40",
        cache=cache_dir,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr  # e.g. torch's about the read-only image cache
    records = read_metrics(run)
    val = [r["val_mse"] for r in records if "val_mse" in r]
    assert len(val) == 3 and val[-1] < 0.035 and val[-1] < val[0]
    assert any("latent_fd" in r for r in records)
    assert any("img_per_s" in r and r["img_per_s"] > 0 for r in records)
    options = json.loads((run / "options.json").read_text())
    assert options["resolution"] == 32 and options["channels"] == 1 and options["width"] == 0.25
    side = 8 * 32 + 9 * 2  # 8 x 8 tiles of 32 px with 2 px gaps
    for name in ("samples-0000150.png", "samples-0000190.png"):
        assert Image.open(run / name).size == (side, side)
    assert Image.open(run / "reconstructions-0000150.png").size[0] == side  # 4 (original, reconstruction) pairs
    best = load_checkpoint(run / "best.pt")
    assert best["state"]["phase"] == "done" and best["state"]["approx_step"] == 40
    assert best["data"]["preprocessing"] == {
        "resolution": 32,
        "channels": 1,
        "crop": 1.0,
        "align": "none",
        "pixel_range": [-1.0, 1.0],
    }
    # Running the finished command again has nothing left to do and changes nothing.
    again = _train(
        str(MNIST),
        "--out",
        str(run),
        "--width",
        "0.25",
        "--lr",
        "1e-3",
        "--max-steps",
        "150",
        "--snapshot-every",
        "50",
        "--approx-steps",
        "40",
        cache=cache_dir,
    )
    assert again.returncode == 0 and "resuming" in again.stderr


def _states_equal(a: dict, b: dict) -> None:
    for group in ("models", "ema"):
        for name, state in a[group].items():
            for key, tensor in state.items():
                assert torch.equal(tensor, b[group][name][key]), (group, name, key)
    for name, opt in a["optimizers"].items():
        for pid, slots in opt["state"].items():
            for key, tensor in slots.items():
                assert torch.equal(torch.as_tensor(tensor), torch.as_tensor(b["optimizers"][name]["state"][pid][key]))
    assert torch.equal(a["noise"], b["noise"])
    assert a["state"]["step"] == b["state"]["step"] and a["state"]["approx_step"] == b["state"]["approx_step"]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["joint", "staged"])
def test_resume_is_exact(tmp_path: Path, cache_dir: Path, schedule: str) -> None:
    """N steps in one go equal N/2 steps, a fresh process resuming, and N/2 more (bit for bit, CPU).

    One intra-op thread: with two, oneDNN's convolution gradients were seen to differ in the last bit
    between identical runs on a loaded 2-core machine (how threads split the reduction), which is not
    a resume error.
    """
    one_thread = {"OMP_NUM_THREADS": "1"}
    # Validations pick the best autoencoder, so the pause falls on a validation step (every 3).
    common = ["--schedule", schedule, "--snapshot-every", "3", "--hflip", "--patience", "0", "--device", "cpu"]
    # joint: 12 Algorithm-1 iterations; staged: 6 autoencoder steps then 12 approximator steps.
    whole, halves = ["--max-steps", "12", "--approx-steps", "0"], None
    if schedule == "staged":
        whole = ["--max-steps", "6", "--approx-steps", "12"]
    one = _train(str(MNIST), "--out", str(tmp_path / "one"), *common, *whole, cache=cache_dir, env=one_thread)
    assert one.returncode == 0, one.stderr
    if schedule == "joint":
        halves = [["--max-steps", "6", "--approx-steps", "0"], whole]
    else:
        halves = [["--max-steps", "3", "--approx-steps", "0"], ["--max-steps", "6", "--approx-steps", "5"], whole]
    for part in halves:
        result = _train(str(MNIST), "--out", str(tmp_path / "two"), *common, *part, cache=cache_dir, env=one_thread)
        assert result.returncode == 0, result.stderr
    _states_equal(load_checkpoint(tmp_path / "one" / "last.pt"), load_checkpoint(tmp_path / "two" / "last.pt"))
    # The metrics of the resumed run hold each logged step once.
    steps = [(r["step"], r["approx_step"]) for r in read_metrics(tmp_path / "two") if "val_mse" in r]
    assert len(steps) == len(set(steps))


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path: Path, cache_dir: Path) -> None:
    """A run killed with SIGKILL at a random moment resumes from its last checkpoint and finishes."""
    run = tmp_path / "run"
    args = [
        sys.executable,
        "-m",
        "aaae_cli",
        "train",
        str(MNIST),
        "--out",
        str(run),
        "--cache-dir",
        str(cache_dir),
        *TINY,
        "--max-steps",
        "400",
        "--snapshot-every",
        "3",
        "--approx-steps",
        "0",
        "--patience",
        "0",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "last.pt").exists():
        time.sleep(0.05)
    time.sleep(0.7)  # mid-run, most likely mid-write of a checkpoint or grid
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = load_checkpoint(run / "last.pt")["state"]["step"]
    assert 0 < killed_at < 400
    # What a kill in the middle of a checkpoint write leaves (whether or not this kill hit one).
    (run / ".last.pt.planted.tmp").write_bytes(b"half a checkpoint")
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"resuming {run} at update {killed_at}" in " ".join(result.stderr.split())
    assert load_checkpoint(run / "last.pt")["state"]["step"] == 400
    assert not list(run.glob(".*.tmp"))


def test_sigterm_saves_and_exits(tmp_path: Path, cache_dir: Path) -> None:
    run = tmp_path / "run"
    args = [
        sys.executable,
        "-m",
        "aaae_cli",
        "train",
        str(MNIST),
        "--out",
        str(run),
        "--cache-dir",
        str(cache_dir),
        *TINY,
        "--max-steps",
        "5000",
        "--snapshot-every",
        "1000",
        "--approx-steps",
        "0",
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Run the same command to resume" in " ".join(stderr.split())
    assert 0 < load_checkpoint(run / "last.pt")["state"]["step"] < 5000


@pytest.mark.slow
def test_bad_inputs(tmp_path: Path, cache_dir: Path) -> None:
    def train(*args: str) -> subprocess.CompletedProcess:
        return _train(*args, cache=cache_dir)

    assert_user_error(train(str(tmp_path / "nope"), "--out", str(tmp_path / "r")), "no such file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_user_error(train(str(empty), "--out", str(tmp_path / "r")), "no image files")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "photo.jpg").write_text("I am text")
    (junk / "cut.jpg").write_bytes(ASTRONAUT.read_bytes()[:3000])
    assert_user_error(train(str(junk), "--out", str(tmp_path / "r")), "no readable image among 2 files")
    assert_user_error(train(str(MNIST), "--out", str(tmp_path / "r"), "--resolution", "48"), "--resolution")
    if not torch.cuda.is_available():
        assert_user_error(train(str(MNIST), "--out", str(tmp_path / "r"), "--device", "cuda"), "no CUDA GPU")
    assert not (tmp_path / "r").exists() or not (tmp_path / "r" / "last.pt").exists()
    # A run folder made with other options is refused and stays resumable.
    run = tmp_path / "run"
    ok = train(str(MNIST), "--out", str(run), "--max-steps", "4", "--approx-steps", "0")
    assert ok.returncode == 0, ok.stderr
    assert_user_error(train(str(MNIST), "--out", str(run), "--max-steps", "4", "--width", "0.25"), "other options")
    more = train(str(MNIST), "--out", str(run), "--max-steps", "8", "--approx-steps", "0")
    assert more.returncode == 0 and load_checkpoint(run / "last.pt")["state"]["step"] == 8
    # Some unreadable files among good ones: skipped and counted, training goes on.
    mixed = tmp_path / "mixed"
    shutil.copytree(junk, mixed)
    for i in range(40):
        Image.open(ASTRONAUT).rotate(i * 9).save(mixed / f"ok{i}.png")
    result = train(
        str(mixed), "--out", str(tmp_path / "m"), "--max-steps", "2", "--approx-steps", "0", "--batch-size", "8"
    )
    assert result.returncode == 0, result.stderr
    assert "skipped 2 unreadable file(s)" in result.stderr


def test_ddp_two_processes_gloo(tmp_path: Path, cache_dir: Path) -> None:
    """torchrun with 2 CPU processes (gloo): one run folder, written once, in step with both ranks."""
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "aaae_cli",
        "train",
        str(MNIST),
        "--out",
        str(run),
        "--cache-dir",
        str(cache_dir),
        *TINY,
        "--device",
        "cpu",
        "--schedule",
        "joint",
        "--max-steps",
        "10",
        "--snapshot-every",
        "5",
        "--batch-size",
        "16",
        "--approx-components",  # its recogniser is used outside the DDP-wrapped forward
        "4",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint(run / "last.pt")["state"]
    assert state["step"] == 10 and state["images_seen"] == 10 * 16 * 2
    assert result.stderr.count("done:") == 1  # only rank 0 reports
    validations = [r for r in read_metrics(run) if "val_mse" in r]
    assert [r["step"] for r in validations] == [5, 10]
    # last.pt is rank 0's (every rank wrote it once, and rank 1 never validates: its best was inf)
    assert state["best_val_mse"] == min(r["val_mse"] for r in validations)


def test_early_stopping_ends_the_autoencoder_phase(tmp_path: Path, cache_dir: Path) -> None:
    """A learning rate far too high makes validation worse; patience 2 stops the phase and the staged
    schedule goes on with the best weights."""
    run = tmp_path / "run"
    result = _train(
        str(MNIST),
        "--out",
        str(run),
        "--lr",
        "0.5",
        "--patience",
        "2",
        "--snapshot-every",
        "2",
        "--max-steps",
        "60",
        "--approx-steps",
        "4",
        cache=cache_dir,
    )
    assert result.returncode == 0, result.stderr
    state = load_checkpoint(run / "last.pt")["state"]
    assert state["early_stopped"] and state["step"] < 60 and state["phase"] == "done"
    validations = [r for r in read_metrics(run) if "val_mse" in r]
    assert validations[-1].get("early_stopped") and state["best_val_mse"] == min(r["val_mse"] for r in validations)


@pytest.mark.slow
def test_a_new_approximator_on_another_runs_autoencoder(tiny_run: Path, tmp_path: Path, cache_dir: Path) -> None:
    """--autoencoder-from: the autoencoder is taken as it is, only a new approximator (here smaller, with
    components) trains; it exports and samples through onnxruntime."""
    from aaae_train.checkpoint import sampling_weights

    run = tmp_path / "sampler"
    args = ["--out", str(run), "--autoencoder-from", str(tiny_run), "--approx-hidden", "32", "--approx-layers", "2"]
    args += ["--approx-components", "4"]
    result = _train(str(MNIST), *args, "--approx-steps", "50", "--snapshot-every", "25", cache=cache_dir)
    assert result.returncode == 0, result.stderr
    source, new = load_checkpoint(tiny_run / "best.pt"), load_checkpoint(run / "best.pt")
    for name in ("encoder", "decoder"):  # the weights both runs sample and export with
        theirs, ours = sampling_weights(source, name), sampling_weights(new, name)
        assert all(torch.equal(theirs[key], ours[key]) for key in theirs), name
    assert new["arch"]["approx_hidden"] == 32 and new["arch"]["approx_layers"] == 2
    assert new["arch"]["approx_components"] == 4 and new["models"]["approximator"]["net.offsets"].shape == (4, 32)
    assert new["models"]["approximator"]["net.layers.0.weight"].shape == (32, 64)
    assert new["state"]["phase"] == "done" and new["state"]["approx_step"] == 50
    assert new["state"]["step"] == source["state"]["step"]  # no autoencoder step was taken here
    records = read_metrics(run)
    assert all(r["phase"] != "autoencoder" for r in records)
    assert any("info" in r for r in records)  # the InfoGAN term that keeps the components apart
    assert new["models"]["approximator"]["net.recognizer.0.weight"].shape == (32, 128)
    exported = run_cli("export", str(run), str(tmp_path / "bundle"))  # checks onnxruntime against torch
    assert exported.returncode == 0, exported.stderr
    samples = aaae_cli.load(tmp_path / "bundle").sample(6, seed=1)
    assert samples.shape[0] == 6 and samples.std() > 0
    # The bundle names the source run, not where it lay on this machine (a published bundle carried the path).
    config = (tmp_path / "bundle" / "config.json").read_text()
    assert json.loads(config)["training"]["options"]["autoencoder_from"] == tiny_run.name
    assert str(tmp_path) not in config and str(tiny_run.parent) not in config
    # A different autoencoder shape is refused in one line.
    other = ["--out", str(tmp_path / "bad"), "--autoencoder-from", str(tiny_run), "--width", "0.25"]
    assert_user_error(run_cli("train", "--cache-dir", str(cache_dir), str(MNIST), *other), "width")
    missing = ["--out", str(tmp_path / "bad2"), "--autoencoder-from", str(tmp_path / "none")]
    assert_user_error(_train(str(MNIST), *missing, cache=cache_dir), "--autoencoder-from")
