"""``aaae train --autoencoder-from`` with a damaged but well-formed checkpoint (issue #23 item 14).

A checkpoint of the right format with a part missing or of the wrong type (no architecture, no preprocessing,
progress counters that are not numbers, weights of the wrong shape, a broken EMA copy) ended in tracebacks, and a
run with another ``--align`` than the source's took its autoencoder silently. Each is now one ``error:`` line and
exit 2, with no run folder left behind. The damaged checkpoints are copies of a real one (one training step).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.sources import read_idx
from tests.conftest import MNIST, assert_user_error, run_cli

SHAPE = ["--channels", "1", "--resolution", "32", "--width", "0.125", "--no-progress", "--workers", "1"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a folder of 4 digits, the best.pt of one autoencoder step on it)."""
    root = tmp_path_factory.mktemp("autoencoder-from")
    folder = root / "digits"
    folder.mkdir()
    for i, digit in enumerate(read_idx(MNIST / "train-images-idx3-ubyte.gz")[:4]):
        Image.fromarray(np.asarray(digit)).save(folder / f"{i}.png")
    run = root / "run"
    cache = str(root / "cache")
    result = run_cli("train", str(folder), "--out", str(run), *SHAPE, "--max-steps", "1", "--approx-steps", "0",
                     "--cache-dir", cache)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder, run / "best.pt"


def _without(key: str) -> Callable[[dict], None]:
    return lambda checkpoint: checkpoint.pop(key)


def _wrong_shape(checkpoint: dict) -> None:
    import torch

    encoder = checkpoint["models"]["encoder"]
    first = next(iter(encoder))
    encoder[first] = torch.zeros(3)


def _broken_ema(checkpoint: dict) -> None:
    import torch

    checkpoint["ema"]["encoder"] = {"module.nothing": torch.zeros(2)}


def _aligned(checkpoint: dict) -> None:
    checkpoint["data"]["preprocessing"]["align"] = "face"


def _set(path: str, value: object) -> Callable[[dict], None]:
    def edit(checkpoint: dict) -> None:
        *parents, last = path.split(".")
        node = checkpoint
        for name in parents:
            node = node[name]
        node[last] = value

    return edit


# name: (the damage, what the one error line says)
DAMAGE: dict[str, tuple[Callable[[dict], None], str]] = {
    "no-architecture": (_without("arch"), "damaged checkpoint (its architecture"),
    "no-preprocessing": (_without("data"), "damaged checkpoint (its preprocessing"),
    "progress-a-string": (_set("state.step", "12"), "damaged checkpoint (its training progress"),
    "no-discriminator": (_set("models.discriminator", None), "damaged checkpoint (its autoencoder weights"),
    "weights-of-another-shape": (_wrong_shape, "its weights do not fit the networks it describes"),
    "broken-ema-copy": (_broken_ema, "its weights do not fit the networks it describes"),
    "another-align": (_aligned, "trained with --align face, this run with --align none"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_autoencoder_checkpoint_is_one_line(source: tuple[Path, Path], tmp_path: Path, damage: str) -> None:
    from aaae_train.checkpoint import load_checkpoint, save_checkpoint

    folder, good = source
    edit, message = DAMAGE[damage]
    checkpoint = load_checkpoint(good)
    edit(checkpoint)
    bad = tmp_path / "bad.pt"
    save_checkpoint({k: v for k, v in checkpoint.items() if k not in ("format", "version")}, bad)
    run = tmp_path / "run"
    result = run_cli("train", str(folder), "--out", str(run), *SHAPE, "--autoencoder-from", str(bad),
                     "--approx-steps", "1", "--cache-dir", str(tmp_path / "cache"))  # fmt: skip
    assert_user_error(result, f"--autoencoder-from {bad}", message)
    assert not run.exists()
