"""``aaae eval`` end to end on the tiny exported model and the real digits in tests/data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from aaae_cli.api import Model
from aaae_cli.data.sources import in_validation
from aaae_cli.errors import UserError
from aaae_cli.evaluation.evaluate import EvalSettings, Evaluator, evaluate
from tests.conftest import MNIST, BarRecorder, assert_user_error, run_cli


@pytest.fixture(scope="session")
def tiny_evaluator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digit classifier trained on the training split of tests/data (a few seconds), exported to ONNX."""
    from aaae_train.evaluators import TASKS, Task, train_evaluator

    root = tmp_path_factory.mktemp("evaluator")
    task = Task(**{**TASKS["digits"].__dict__, "epochs": 8, "widths": (16, 32, 64), "features": 64})
    card = train_evaluator(task, str(MNIST), root / "digits", batch_size=16, cache_dir=root / "cache")
    assert card["held_out"]["accuracy"] > 0.6  # 475 training digits, 8 epochs (0.90 measured): weak but real
    return root / "digits"


def test_evaluator_reads_real_digits(tiny_evaluator: Path) -> None:
    evaluator = Evaluator(tiny_evaluator, "cpu")
    assert evaluator.classes == [f"digit_{d}" for d in range(10)] and not evaluator.multilabel
    card = json.loads((tiny_evaluator / "evaluator.json").read_text())
    assert card["held_out"]["images"] > 10 and card["feature_dim"] == 64


def test_evaluate_reports_every_part(tiny_bundle: Path, tiny_evaluator: Path) -> None:
    model = Model.load(tiny_bundle, device="cpu")
    settings = EvalSettings(samples=300, evaluator=str(tiny_evaluator), components=3, device="cpu")
    result = evaluate(model, MNIST, settings)
    recon = result["reconstruction"]
    # aaae export measured the MSE of the same held-out split on the same ONNX graphs.
    assert 0 < recon["mse_01"] < 0.1 and abs(recon["mse_pm1"] - 4 * recon["mse_01"]) < 1e-5
    assert abs(recon["mse_01"] - model.config["metrics"]["val_mse_onnx"]) < 0.01
    assert result["held_out_images"] > 10 and result["baseline_fit"]["training_codes"] > 400
    for name in ("approximator", "gaussian", "gmm3"):
        entry = result["samples"][name]
        assert entry["n"] == 300 and entry["evaluator_fd"] > 0 and 1 <= entry["evaluator_is"] <= 10
        assert entry["latent_fd"] > 0
        assert abs(sum(entry["class_shares"]) - 1) < 1e-3
    assert 1 <= result["real_evaluator_is"] <= 10
    only = evaluate(model, MNIST, EvalSettings(**{**settings.__dict__, "samplers": ("gmm", "approximator")}))
    assert set(only["samples"]) == {"approximator", "gmm3"}  # the same draws as the full run, fewer judged
    for name in only["samples"]:
        assert only["samples"][name] == result["samples"][name]
    recorder = BarRecorder()
    approximator_only = evaluate(
        model, MNIST, EvalSettings(**{**settings.__dict__, "samplers": ("approximator",)}), progress=recorder
    )
    assert set(approximator_only["samples"]) == {"approximator"} and "baseline_fit" not in approximator_only
    # nothing needs training images then (no baseline, no FID): none is read
    assert recorder.bars[0] == ["reading images", result["held_out_images"], result["held_out_images"]]
    with pytest.raises(UserError, match="samplers: gan; choose from approximator, gaussian, gmm"):
        evaluate(model, MNIST, EvalSettings(**{**settings.__dict__, "samplers": ("gan",)}))


def test_eval_command_defaults_are_the_settings_defaults() -> None:
    """``aaae eval`` builds :class:`EvalSettings` from its options, whose defaults must be the settings' (the light
    CLI cannot import the evaluation to read them: it loads onnxruntime)."""
    import inspect

    from aaae_cli.cli.eval import eval_command

    option = {name: p.default for name, p in inspect.signature(eval_command).parameters.items()}
    settings = EvalSettings()
    assert option["n"] == settings.samples and option["held_out"] == settings.held_out_limit
    assert option["split"] == settings.split and option["evaluator"] == settings.evaluator
    assert option["components"] == settings.components and option["seed"] == settings.seed
    assert option["device"] == settings.device and tuple(option["temperature"] or ()) == settings.temperatures
    assert option["sampler"] is None and settings.samplers == ("approximator", "gaussian", "gmm")  # None: all


def test_eval_command(tiny_bundle: Path, tiny_evaluator: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = run_cli(
        "eval",
        "--model",
        str(tiny_bundle),
        "--data",
        str(MNIST),
        "-n",
        "200",
        "--evaluator",
        str(tiny_evaluator),
        "--components",
        "3",
        "--temperature",
        "0.5",
        "--json",
        str(out),
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report["samples"]) == {"approximator", "approximator@0.5", "gaussian", "gmm3"}
    assert report["samples"]["approximator@0.5"]["evaluator_fd"] != report["samples"]["approximator"]["evaluator_fd"]
    assert "evaluator FD" in result.stdout and "FID" not in result.stdout.replace("evaluator FD", "")
    assert_user_error(run_cli("eval", "--model", str(tiny_bundle), "--data", str(tmp_path / "none")), "no such")
    assert_user_error(run_cli("eval", "--model", str(tiny_bundle), "--data", str(MNIST), "-n", "1"), "-n")
    assert_user_error(
        run_cli("eval", "--model", str(tiny_bundle), "--data", str(MNIST), "--temperature", "0"), "temperature"
    )
    assert_user_error(
        run_cli("eval", "--model", str(tiny_bundle), "--data", str(MNIST), "--sampler", "vae"), "samplers: vae"
    )
    # There is no FID path (no Inception weights here): the option that could only fail is gone.
    assert_user_error(
        run_cli("eval", "--model", str(tiny_bundle), "--data", str(MNIST), "--fid-weights", str(tmp_path / "w.pth")),
        "--fid-weights",
    )


def test_eval_holds_out_what_multi_folder_training_held_out(digit_files: list[Path], tmp_path: Path) -> None:
    """Trained on two folders, images are keyed "folder/file"; eval on either folder must split the same way."""
    from types import SimpleNamespace

    from aaae_cli.data.sources import detect_source
    from aaae_cli.evaluation.evaluate import read_as_trained
    from aaae_train.data import Preprocessing, load_dataset

    folders = [tmp_path / "first" / "images", tmp_path / "second" / "images"]
    for folder, part in zip(folders, (digit_files[::2], digit_files[1::2]), strict=True):
        folder.mkdir(parents=True)
        for path in part:
            shutil.copy(path, folder / path.name)
    dataset = load_dataset([detect_source(f) for f in folders], Preprocessing(32, 1, 1.0), tmp_path / "cache")
    train_idx, val_idx = dataset.split(0.3)
    held_in_training = {dataset.keys[i] for i in val_idx}
    for folder in folders:
        trained_on_two = SimpleNamespace(config={"training": {"data": {"sources": 2}}})
        keys = read_as_trained(folder, None, trained_on_two).keys
        assert set(keys) <= set(dataset.keys)
        held = {k for k in keys if in_validation(k, 0.3)}
        assert held == held_in_training & set(keys)
    assert held_in_training and len(train_idx) > 0


def test_latent_frechet_is_zero_for_the_same_codes_and_grows_with_a_shift() -> None:
    from aaae_cli.evaluation.evaluate import latent_frechet

    rng = np.random.default_rng(0)
    held_out = rng.normal(3.0, 2.0, (4000, 8))
    assert latent_frechet(held_out, held_out) < 1e-6
    # Standardised by the held-out spread (about 2), a shift of 2 in each of 8 dimensions adds about 1 each:
    # the covariances are equal, so FD is exactly the squared standardised shift.
    expected = float(((2.0 / held_out.std(0)) ** 2).sum())
    assert latent_frechet(held_out + 2.0, held_out) == pytest.approx(expected, rel=1e-6)
    assert 7.5 < expected < 8.5


def test_positive_weights_balance_rare_attributes() -> None:
    import torch

    from aaae_train.evaluators import positive_weights

    targets = torch.zeros(100, 4)
    targets[:50, 0] = 1  # common: 50 of 100
    targets[:4, 1] = 1  # rare: 4 of 100
    targets[:, 2] = 1  # always: nothing to balance
    weights = positive_weights(targets, limit=20.0)
    assert weights.tolist() == pytest.approx([1.0, 20.0, 1.0, 1.0])  # 96/4 = 24, capped; column 3 never
    assert positive_weights(targets, limit=100.0)[1].item() == pytest.approx(24.0)
