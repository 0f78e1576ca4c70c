"""The runtime commands end to end, through the real ``aaae`` process and typer's runner, on the tiny bundle
exported from a model trained in this session on the real digits in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import aaae_cli
from aaae_cli.cli import app
from aaae_cli.images import load_image
from tests.conftest import run_cli

TILE = 32  # the tiny model's resolution
PAD = 2  # make_grid's padding


def _tile(grid: np.ndarray, row: int, col: int, size: int = TILE) -> np.ndarray:
    y, x = PAD + row * (size + PAD), PAD + col * (size + PAD)
    return grid[y : y + size, x : x + size]


def _gray(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.int16)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(((np.asarray(a, np.float64) - np.asarray(b, np.float64)) / 255.0) ** 2))


def test_sample_grid_layout_and_seed(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    result = run_cli("sample", "-n", "10", str(out), "--cols", "4", "--seed", "7", "--model", str(tiny_bundle))
    assert result.returncode == 0, result.stderr
    assert "10 samples" in result.stderr and "seed 7" in result.stderr
    grid = _gray(out)
    assert grid.shape == (3 * TILE + 4 * PAD, 4 * TILE + 5 * PAD)  # 3 rows of 4 (the last one partly empty)
    expected = aaae_cli.load(tiny_bundle).sample(10, seed=7)[:, :, :, 0]
    for index in range(10):
        assert np.array_equal(_tile(grid, *divmod(index, 4)), expected[index])
    assert np.all(_tile(grid, 2, 3) == 255)  # unused cells stay white
    assert expected.std() > 10  # samples, not blank images
    # The same seed gives the same images; the first k of n do not depend on n.
    again = tmp_path / "again.png"
    assert (
        run_cli("sample", "-n", "4", str(again), "--seed", "7", "--cols", "4", "--model", str(tiny_bundle)).returncode
        == 0
    )
    assert np.array_equal(_gray(again)[: TILE + 2 * PAD], grid[: TILE + 2 * PAD])


def test_sample_separate_and_defaults(tiny_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    result = run_cli("sample", "-n", "600", "--separate", str(folder), "--seed", "1", "--model", str(tiny_bundle))
    assert result.returncode == 0, result.stderr
    files = sorted(folder.iterdir())
    assert len(files) == 600 and files[0].name == "sample-000.png" and files[-1].name == "sample-599.png"
    assert Image.open(files[5]).size == (TILE, TILE)
    assert not (tmp_path / "samples.png").exists()  # --separate alone writes no grid
    # No output argument: samples.png in the current folder; --zoom enlarges; temperature 0 is the mean image.
    result = run_cli(
        "sample", "-n", "3", "--temperature", "0", "--zoom", "2", "--model", str(tiny_bundle), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    grid = _gray(tmp_path / "samples.png")
    assert grid.shape == (2 * 2 * TILE + 3 * PAD, 2 * 2 * TILE + 3 * PAD)
    assert np.array_equal(_tile(grid, 0, 0, 2 * TILE), _tile(grid, 0, 1, 2 * TILE))


def test_reconstruct(tiny_bundle: Path, digit_files: list[Path], tmp_path: Path) -> None:
    out, folder = tmp_path / "r.png", tmp_path / "recon"
    inputs = digit_files[:3]
    result = run_cli(
        "reconstruct", *map(str, inputs), "-o", str(out), "--separate", str(folder), "--model", str(tiny_bundle)
    )
    assert result.returncode == 0, result.stderr
    grid = _gray(out)
    assert grid.shape == (TILE + 2 * PAD, 6 * TILE + 7 * PAD)  # one row: (input, reconstruction) x 3
    for i, path in enumerate(inputs):
        prepared = load_image(path, TILE, 1)[:, :, 0]
        assert np.array_equal(_tile(grid, 0, 2 * i), prepared)
        recon = _tile(grid, 0, 2 * i + 1)
        assert np.array_equal(_gray(folder / path.name), recon)
    # Every held-out digit (never trained on) is reconstructed far closer to itself than to other digits.
    model = aaae_cli.load(tiny_bundle)
    real = model.prepare_batch(digit_files)
    recon = model.reconstruct(real)
    own = np.mean([_mse(r, x) for r, x in zip(recon, real, strict=True)])
    other = np.mean([_mse(r, x) for r, x in zip(recon, np.roll(real, 1, axis=0), strict=True)])
    assert own < 0.04 and own < other / 3, (own, other)
    # Folders expand to their images; --cols sets pairs per row.
    result = run_cli(
        "reconstruct", str(digit_files[0].parent), "-o", str(out), "--cols", "2", "--model", str(tiny_bundle)
    )
    assert result.returncode == 0, result.stderr
    rows = -(-len(digit_files) // 2)
    assert _gray(out).shape == (rows * TILE + (rows + 1) * PAD, 4 * TILE + 5 * PAD)
    # --separate alone: single files, no grid.
    only = tmp_path / "only"
    result = run_cli(
        "reconstruct", *map(str, inputs), "--separate", str(only), "--model", str(tiny_bundle), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(list(only.iterdir())) == 3 and not (tmp_path / "reconstructions.png").exists()


def test_interpolate_png_and_gif(tiny_bundle: Path, digit_files: list[Path], tmp_path: Path) -> None:
    a, b = digit_files[0], digit_files[1]
    model = aaae_cli.load(tiny_bundle)
    ends = model.reconstruct([a, b])[:, :, :, 0].astype(np.int16)
    out = tmp_path / "i.png"
    result = run_cli("interpolate", str(a), str(b), "--steps", "5", "-o", str(out), "--model", str(tiny_bundle))
    assert result.returncode == 0, result.stderr
    row = _gray(out)
    assert row.shape == (TILE + 2 * PAD, 5 * TILE + 6 * PAD)
    frames = [_tile(row, 0, i) for i in range(5)]
    assert np.abs(frames[0] - ends[0]).max() <= 1 and np.abs(frames[-1] - ends[1]).max() <= 1
    assert _mse(frames[2], frames[0]) > 1e-4 and _mse(frames[2], frames[-1]) > 1e-4  # it moves in between
    gif = tmp_path / "i.gif"
    result = run_cli("interpolate", str(a), str(b), "--steps", "5", "-o", str(gif), "--model", str(tiny_bundle))
    assert result.returncode == 0, result.stderr
    with Image.open(gif) as animation:
        assert animation.n_frames == 8 and animation.size == (TILE, TILE)  # 5 forth, 3 back
        animation.seek(0)
        first = np.asarray(animation.convert("L"), dtype=np.int16)
    assert np.abs(first - ends[0]).max() <= 2
    wide = tmp_path / "w.png"
    assert (
        run_cli("interpolate", str(a), str(b), "-o", str(wide), "--with-inputs", "--model", str(tiny_bundle)).returncode
        == 0
    )
    assert _gray(wide).shape[1] == 10 * TILE + 11 * PAD  # A, 8 steps, B


def test_edit_moves_the_code_along_the_direction(tiny_bundle: Path, digit_files: list[Path], tmp_path: Path) -> None:
    """An edit adds the model's change to the image at the image's own size (28x28 here, the model is 32x32)."""
    model = aaae_cli.load(tiny_bundle)
    direction = model.attributes["digit_3"].direction
    unit = direction / np.linalg.norm(direction)
    image = next(p for p in digit_files if not p.stem.endswith("-3"))
    out = tmp_path / "e.png"
    result = run_cli(
        "edit", str(image), "--attr", "DIGIT_3", "--strength", "2", "-o", str(out), "--model", str(tiny_bundle)
    )
    assert result.returncode == 0, result.stderr
    original = np.asarray(Image.open(image))
    edited = np.asarray(Image.open(out).convert("L"))
    assert edited.shape == original.shape == (28, 28) and (edited != original).any()
    # The edited image's own code has moved along the direction, much more than across it.
    moved = model.encode(edited[:, :, None])[0] - model.encode(original[:, :, None])[0]
    along = float(moved @ unit)
    across = np.linalg.norm(moved - along * unit) / np.sqrt(model.c_dim - 1)
    assert along > 0.3 * 2 * np.linalg.norm(direction) and along > 5 * across, (along, across)
    # A sweep: one row, strength 0 in the middle is the image itself; --compare adds input and reconstruction.
    sweep = tmp_path / "sweep.png"
    result = run_cli(
        "edit",
        str(image),
        "--attr",
        "digit_3",
        "--sweep",
        "-2:2:5",
        "--compare",
        "-o",
        str(sweep),
        "--model",
        str(tiny_bundle),
    )
    assert result.returncode == 0, result.stderr
    row = _gray(sweep)
    assert row.shape == (TILE + 2 * PAD, 7 * TILE + 8 * PAD)
    assert np.array_equal(_tile(row, 0, 0), _tile(row, 0, 4))  # the input == strength 0
    assert np.array_equal(_tile(row, 0, 1), model.reconstruct(image)[0, :, :, 0])
    assert not np.array_equal(_tile(row, 0, 4), _tile(row, 0, 6))


def test_info_and_attribute_list(tiny_bundle: Path) -> None:
    result = run_cli("info", "--model", str(tiny_bundle))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "32x32, grayscale" in text and "z 64, c 128" in text and "mnist" in text
    assert "7 verified" in text and "val_mse" in text and "digit_9" in text  # every file but the manifest
    data = json.loads(run_cli("info", "--model", str(tiny_bundle), "--json").stdout)
    assert data["config"]["resolution"] == 32 and "decoder.onnx" in data["files"]
    listed = run_cli("attributes", "list", "--model", str(tiny_bundle))
    assert listed.returncode == 0 and "digit_0" in listed.stdout and "separation" in listed.stdout
    rows = json.loads(run_cli("attributes", "list", "--model", str(tiny_bundle), "--json").stdout)
    assert [r["name"] for r in rows] == [f"digit_{d}" for d in range(10)] and rows[0]["separation"] > 1
    assert "centre square crop of 1 of the shorter side" in text
    train_images = data["config"]["training"]["data"]["train_images"]
    assert f"covariance matched to {train_images} training codes at export" in text  # aaae_train.moments


def test_info_says_how_a_face_model_frames_photos() -> None:
    """The built-in faces model aligns faces to its landmark template; info said "centre crop" (as the model card
    does, both now from aaae_cli.bundle.card.framing)."""
    result = run_cli("info", "--model", "faces")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "aligned to the 5-point landmark template" in text and "centre crop" not in text


@pytest.mark.parametrize("command", ["sample", "reconstruct", "interpolate", "edit", "info", "export", "attributes"])
def test_every_command_has_help_with_examples(command: str) -> None:
    args = [command, "list", "--help"] if command == "attributes" else [command, "--help"]
    result = run_cli(*args)
    assert result.returncode == 0 and "Examples" in result.stdout, result.stdout
    if command != "info":  # bracketed help text survives rich markup
        text = "".join(result.stdout.split())
        assert "[default:" in text and ("[@revision]" in text or command == "export"), result.stdout


def test_typer_runner_in_process(tiny_bundle: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "s.png"
    result = runner.invoke(app, ["sample", "-n", "4", str(out), "--seed", "3", "--model", str(tiny_bundle)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (2 * TILE + 3 * PAD,) * 2
    failed = runner.invoke(app, ["sample", "-n", "0", str(tmp_path / "x.png"), "--model", str(tiny_bundle)])
    assert isinstance(failed.exception, aaae_cli.UserError) and "at least 1" in str(failed.exception)
    assert not (tmp_path / "x.png").exists()


def test_device_auto_is_silent_and_cuda_is_refused_without_it(tiny_bundle: Path, tmp_path: Path) -> None:
    from aaae_cli.runtime import cuda_offered

    result = run_cli("sample", "-n", "2", str(tmp_path / "a.png"), "--device", "auto", "--model", str(tiny_bundle))
    assert result.returncode == 0 and "[E:" not in result.stderr and "[W:" not in result.stderr, result.stderr
    if not cuda_offered():
        from tests.conftest import assert_user_error

        result = run_cli("sample", "-n", "2", str(tmp_path / "b.png"), "--device", "cuda", "--model", str(tiny_bundle))
        assert_user_error(result, "--device cuda")
        assert not (tmp_path / "b.png").exists()
