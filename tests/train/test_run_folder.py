"""Training runs that survive a kill at the worst moment, a second process, and hostile options (issue #13)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aaae_train.checkpoint import load_checkpoint
from tests.conftest import MNIST, TINY, assert_user_error, run_cli

# Ten updates, one snapshot at the end of the autoencoder phase, then ten approximator updates.
SHORT = ["--max-steps", "10", "--snapshot-every", "10", "--approx-steps", "10"]

# A real `aaae train` process that dies (os._exit, like kill -9) the moment it starts writing a chosen
# checkpoint: AAAE_TEST_DIE_AT="best.pt" or "last.pt:approximator" (the first last.pt of that phase).
_DYING = """
import os, sys
import aaae_train.loop as loop
name, _, phase = os.environ["AAAE_TEST_DIE_AT"].partition(":")
real = loop.save_checkpoint
def save(state, path):
    if path.name == name and (not phase or state["state"]["phase"] == phase):
        os._exit(9)
    real(state, path)
loop.save_checkpoint = save
from aaae_cli.cli import main
sys.argv = ["aaae", *sys.argv[1:]]
main()
"""


def _train_args(run: Path, cache: Path) -> list[str]:
    return ["train", str(MNIST), "--out", str(run), "--cache-dir", str(cache), *TINY, *SHORT]


def _die_at(where: str, args: list[str]) -> None:
    env = {**os.environ, "AAAE_TEST_DIE_AT": where}
    result = subprocess.run([sys.executable, "-c", _DYING, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 9, result.stderr


@pytest.mark.slow
def test_a_kill_while_best_pt_is_written_leaves_a_run_that_resumes(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 4: last.pt was written first and named a best.pt that a kill then never wrote."""
    run = tmp_path / "run"
    _die_at("best.pt", _train_args(run, cache_dir))
    result = run_cli(*_train_args(run, cache_dir))
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(run / "best.pt")["state"]["step"] == 10
    assert load_checkpoint(run / "last.pt")["state"]["phase"] == "done"


@pytest.mark.slow
def test_a_missing_best_pt_is_rebuilt_from_last_pt_on_resume(tmp_path: Path, cache_dir: Path) -> None:
    """The state older versions left (last.pt at the end of the autoencoder phase, no best.pt) resumes."""
    run = tmp_path / "run"
    _die_at("last.pt:approximator", _train_args(run, cache_dir))
    assert load_checkpoint(run / "last.pt")["state"]["phase"] == "autoencoder"
    (run / "best.pt").unlink()
    result = run_cli(*_train_args(run, cache_dir))
    assert result.returncode == 0, result.stderr
    assert "best.pt was missing; rebuilt from last.pt" in " ".join(result.stderr.split())
    assert load_checkpoint(run / "best.pt")["state"]["phase"] == "done"


@pytest.mark.slow
def test_a_second_train_on_the_same_run_folder_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 5: two `aaae train` on one --out interleaved metrics.jsonl and deleted each other's
    temporaries. The first one locks the folder; the second gets one line and touches nothing."""
    run = tmp_path / "run"
    args = ["train", str(MNIST), "--out", str(run), "--cache-dir", str(cache_dir), *TINY]
    first = subprocess.Popen(
        [sys.executable, "-m", "aaae_cli", *args, "--max-steps", "100000", "--approx-steps", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "metrics.jsonl").exists():
            time.sleep(0.05)
        metrics = (run / "metrics.jsonl").read_bytes()
        second = run_cli(*args, "--max-steps", "100000", "--approx-steps", "0")
        assert_user_error(second, "in use by another 'aaae train'", f"process {first.pid}")
        assert (run / "metrics.jsonl").read_bytes().startswith(metrics)
    finally:
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    import fcntl

    with open(run / ".aaae-train.lock") as handle:  # the lock went with the first process
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_full_disk_while_caching_the_dataset_is_one_line(tmp_path: Path, small_disk: Path) -> None:
    """Issue #13 item 11: a full disk while the dataset cache was written gave a traceback and left its
    ``.npy.tmp`` behind."""
    run = tmp_path / "run"
    result = run_cli("train", str(MNIST), "--out", str(run), "--cache-dir", str(small_disk), *TINY, *SHORT)
    assert_user_error(result, "cannot write the dataset cache", "free some space")
    assert not list(small_disk.iterdir()), "the cache's temporary file was left behind"
    assert not run.exists(), "a refused run left its folder behind"


def test_a_full_disk_while_writing_a_checkpoint_is_one_line(tmp_path: Path, cache_dir: Path, small_disk: Path) -> None:
    """Issue #13 item 11: a full disk during a checkpoint was a traceback."""
    run = small_disk / "run"
    result = run_cli("train", str(MNIST), "--out", str(run), "--cache-dir", str(cache_dir), *TINY, *SHORT)
    assert_user_error(result, "cannot write the checkpoint", "run the same command to resume")
    assert not list(run.glob(".*.tmp")), "a half-written checkpoint was left behind"


def test_non_finite_options_are_refused(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 14: --lr inf and --lambda-adv nan were accepted; every loss became NaN."""
    from aaae_cli.errors import UserError
    from aaae_train.options import FLOAT_OPTIONS, TrainOptions

    run = tmp_path / "run"
    result = run_cli("train", str(MNIST), "--out", str(run), "--cache-dir", str(cache_dir), *TINY, "--lr", "inf")
    assert_user_error(result, "--lr inf: must be a finite number")
    assert not run.exists()
    for name in FLOAT_OPTIONS:
        for bad in (float("nan"), float("inf"), -float("inf")):
            options = TrainOptions(data=[str(MNIST)], out=str(run), **{name: bad})
            with pytest.raises(UserError, match="must be a finite number"):
                options.validate()


def test_a_diverging_run_stops_with_one_line_naming_the_update(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 14: a run whose losses became NaN ended with exit 0, naming a best.pt never written."""
    run = tmp_path / "run"
    args = ["train", str(MNIST), "--out", str(run), "--cache-dir", str(cache_dir), *TINY, *SHORT]
    result = run_cli(*args, "--snapshot-every", "3", "--lr", "1e30")
    assert_user_error(result, "training diverged", "is nan at update 3", "lower --lr")
    assert not (run / "best.pt").exists() and not (run / "last.pt").exists()
