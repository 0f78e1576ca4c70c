"""Every ``--channels`` / ``--resolution`` / ``--align`` combination of ``aaae train`` on a plain folder (issue #23
item 1: ``aaae train FOLDER --channels 1`` was refused with "--align face needs colour images" although ``--align``
was never given: the options were checked while ``align`` was still unresolved).

The full matrix is checked in-process through the functions ``aaae train`` calls (milliseconds each); through the
real command, every channels x align pair (with each resolution in turn) on a one-image folder, which stops right
after the options are accepted, at the data check ("only 1 readable image"), and the issue's command trains.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.sources import read_idx
from aaae_cli.errors import UserError
from aaae_train.options import make_options
from tests.conftest import MNIST, assert_user_error, run_cli

CHANNELS = (None, 1, 3)
RESOLUTIONS = (None, 32, 64, 128)
ALIGNS = (None, "none", "face")
REFUSED = "--align face needs colour images (--channels 3)"


def _digits_folder(root: Path, count: int) -> Path:
    """``count`` grayscale MNIST digits as PNG files: a plain folder (not an idx file)."""
    folder = root / f"digits-{count}"
    folder.mkdir()
    for i, digit in enumerate(read_idx(MNIST / "train-images-idx3-ubyte.gz")[:count]):
        Image.fromarray(np.asarray(digit)).save(folder / f"{i:03d}.png")
    return folder


def _flags(channels: int | None, resolution: int | None, align: str | None) -> list[str]:
    given = {"--channels": channels, "--resolution": resolution, "--align": align}
    return [text for flag, value in given.items() if value is not None for text in (flag, str(value))]


def _allowed(channels: int | None, align: str | None, kind: str) -> bool:
    """Face alignment needs colour; grayscale is the default only for MNIST."""
    resolved = channels if channels is not None else (1 if kind == "mnist" else 3)
    return align != "face" or resolved == 3


@pytest.mark.parametrize("kind", ["folder", "mnist"])
def test_every_combination_resolves_as_documented(tmp_path: Path, kind: str) -> None:
    for channels, resolution, align in itertools.product(CHANNELS, RESOLUTIONS, ALIGNS):
        given = {"channels": channels, "resolution": resolution, "align": align}
        try:
            opts = make_options(tmp_path, tmp_path / "run", **given).resolve([kind])
        except UserError as exc:
            assert not _allowed(channels, align, kind), (given, str(exc))
            assert str(exc) == REFUSED
            continue
        assert _allowed(channels, align, kind), given
        assert opts.channels == (channels or (1 if kind == "mnist" else 3)), given
        assert opts.resolution == (resolution or (32 if kind == "mnist" else 64)), given
        assert opts.align == (align or "none"), given


# Each resolution in turn, so every value of each option goes through the real command.
PAIRS = [(c, r, a) for (c, a), r in zip(itertools.product(CHANNELS, ALIGNS), itertools.cycle(RESOLUTIONS))]


@pytest.mark.parametrize(("channels", "resolution", "align"), PAIRS)
def test_aaae_train_accepts_every_combination_on_a_plain_folder(
    tmp_path: Path, channels: int | None, resolution: int | None, align: str | None
) -> None:
    folder = _digits_folder(tmp_path, 1)
    run = tmp_path / "run"
    flags = _flags(channels, resolution, align)
    result = run_cli("train", str(folder), "--out", str(run), "--cache-dir", str(tmp_path / "c"), "--workers", "1",
                     "--no-progress", *flags)  # fmt: skip
    if not _allowed(channels, align, "folder"):
        assert_user_error(result, REFUSED)
    elif align == "face":  # accepted: the digit has no face to align, so the data check ends it
        assert_user_error(result, "no readable image among 1 files", "no face")
    else:  # accepted: the single image is too few, which is checked once the options are
        assert_user_error(result, "only 1 readable image")
    assert not run.exists()


def test_the_issue_command_trains_grayscale(tmp_path: Path) -> None:
    """``aaae train FOLDER --out run --channels 1`` (at 32x32 to be quick): grayscale, no alignment, trained and
    recorded so."""
    run = tmp_path / "run"
    result = run_cli(
        "train", str(_digits_folder(tmp_path, 4)), "--out", str(run), "--channels", "1", "--cache-dir",
        str(tmp_path / "c"), "--workers", "1", "--no-progress", "--width", "0.125", "--resolution", "32",
        "--max-steps", "1", "--approx-steps", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    options = json.loads((run / "options.json").read_text())
    assert (options["channels"], options["resolution"], options["align"]) == (1, 32, "none")
    assert (run / "best.pt").is_file()
