"""Training runs that survive a kill at the worst moment, a second process, and hostile options (issue #13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aaae_train.checkpoint import load_checkpoint
from tests.conftest import MNIST, TINY, run_cli

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


def test_a_kill_while_best_pt_is_written_leaves_a_run_that_resumes(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 4: last.pt was written first and named a best.pt that a kill then never wrote."""
    run = tmp_path / "run"
    _die_at("best.pt", _train_args(run, cache_dir))
    result = run_cli(*_train_args(run, cache_dir))
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(run / "best.pt")["state"]["step"] == 10
    assert load_checkpoint(run / "last.pt")["state"]["phase"] == "done"


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
