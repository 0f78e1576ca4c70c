"""``aaae evaluator train``: the classifiers ``aaae eval`` judges with, trained from the ``aaae`` command line (it
was only ``python -m aaae_train.evaluators``, which still works). ``aaae eval`` itself: tests/evaluation/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from aaae_cli.evaluation.evaluate import Evaluator
from tests.conftest import MNIST, assert_user_error, run_cli

TINY = ["--epochs", "1", "--widths", "8,16", "--batch-size", "32"]  # seconds on the 500 digits of tests/data


def _cache(root: Path) -> dict[str, str]:
    """The environment that keeps the decoded-dataset cache in the test's folder, not the user's."""
    return {"AAAE_CACHE_DIR": str(root / "cache")}


def _old_command_line(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m aaae_train.evaluators ARGS`` in a fresh process (its cache under ``root``)."""
    return subprocess.run(
        [sys.executable, "-m", "aaae_train.evaluators", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **_cache(root)},
    )


@pytest.mark.slow
def test_evaluator_train_end_to_end_under_both_names(tmp_path: Path) -> None:
    new, old = tmp_path / "new", tmp_path / "old"
    result = run_cli("evaluator", "train", "digits", str(MNIST), "--out", str(new), *TINY, env=_cache(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[-1])["images"] > 10  # the held-out report, last
    assert any(line.startswith('{"epoch": 1') for line in lines)
    evaluator = Evaluator(new, "cpu")  # what 'aaae eval --evaluator' loads
    assert evaluator.classes == [f"digit_{d}" for d in range(10)] and not evaluator.multilabel
    card = json.loads((new / "evaluator.json").read_text())
    assert card["training"]["epochs"] == 1 and card["feature_dim"] == 128

    script = _old_command_line(tmp_path, "digits", str(MNIST), "--out", str(old), *TINY)
    assert script.returncode == 0, script.stderr
    assert json.loads(script.stdout.strip().splitlines()[-1])["images"] == card["held_out"]["images"]
    same = json.loads((old / "evaluator.json").read_text())
    for part in ("classes", "preprocessing", "outputs"):
        assert same[part] == card[part], part
    assert same["training"]["train_images"] == card["training"]["train_images"]


def _unlabelled(root: Path) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for i in range(3):
        Image.new("L", (32, 32), i * 80).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["letters", str(MNIST)], "'letters': no such evaluator task; use attributes or digits"),
        (["digits", str(MNIST), "--balanced"], "--balanced applies to multi-label (attribute) evaluators only"),
        (["digits", str(MNIST), "--epochs", "0"], "--epochs must be at least 1"),
        (["digits", str(MNIST), "--widths", "8,x"], "--widths 8,x: give channel counts"),
        (["digits", str(MNIST), "--batch-size", "0"], "--batch-size must be at least 1"),
        (["digits", str(MNIST), "--batch-size", "100000"], "fewer than one batch"),
        (["digits", str(MNIST), "--seed", "-1"], "--seed -1"),
        (["digits", "no-such-data"], "no-such-data: no such file or folder"),
        (["digits", "UNLABELLED"], "no labels found"),
    ],
)
def test_bad_input_is_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    args = [str(_unlabelled(tmp_path)) if arg == "UNLABELLED" else arg for arg in args]
    out = tmp_path / "evaluator"
    result = run_cli("evaluator", "train", *args, "--out", str(out), cwd=tmp_path, env=_cache(tmp_path))
    assert_user_error(result, fragment)
    assert not out.exists()


def test_an_out_that_is_a_file_is_refused_before_training(tmp_path: Path) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    result = run_cli("evaluator", "train", "digits", str(MNIST), "--out", str(taken), env=_cache(tmp_path))
    assert_user_error(result, "is a file; give a folder")
    assert taken.read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["digits", str(MNIST), "--balanced"], "--balanced applies to multi-label"),
        (["digits", str(MNIST), "--widths", "0,8"], "--widths 0,8: give channel counts"),
    ],
)
def test_the_old_command_line_says_the_same_in_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    assert_user_error(_old_command_line(tmp_path, *args, "--out", str(tmp_path / "evaluator")), fragment)


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_user_error(run_cli("evaluator", "train", "digits", str(MNIST), cwd=tmp_path), "Missing option '--out'")
    assert_user_error(run_cli("evaluator", "judge", cwd=tmp_path), "No such command 'judge'")
    assert not list(tmp_path.iterdir())


def test_eval_tables_keep_every_figure_in_80_columns() -> None:
    """In a log (80 columns, no terminal) the FID tables once cut KID to "0.0..." and the floor's 0.0003 read 0.000."""
    from rich.console import Console

    from aaae_cli.cli.eval import _samples_table, _table

    report = {
        "model": "faces",
        "data": "celeba (val split)",
        "held_out_images": 425,
        "reconstruction": {
            "mse_01": 0.004909,
            "mse_pm1": 0.019637,
            "evaluator_fd": 9.155,
            "fid": 68.88,
            "kid": 0.04618,
        },
        "real_evaluator_is": None,
        "fid_real": {
            "floor_held_out": {"images": 425, "fid": 27.361, "kid": 0.0003},
            "floor_training_10000": {"images": 10000, "fid": 1.21, "kid": 0.00002},
        },
        "samples": {
            name: {"n": 10000, "latent_fd": 29.983, "evaluator_fd": 10.657, "fid": 59.419, "kid": kid}
            for name, kid in (("approximator", 0.05689), ("gaussian", 0.07966), ("gmm10", 0.06905))
        },
    }
    console = Console(width=80, force_terminal=False, record=True)
    console.print(_table(report))
    console.print(_samples_table(report))
    text = console.export_text()
    for figure in ("68.880", "0.04618", "27.361", "0.00030", "59.419", "0.05689", "0.07966", "0.06905", "0.00002"):
        assert figure in text, figure
    assert max(len(line) for line in text.splitlines()) <= 80
