"""Resource bounds of the runtime commands (issue #13 item 16): grids aaae could not read back, thread counts
beyond reason, and inputs that block forever."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aaae_cli.errors import UserError
from aaae_cli.images import MAX_PIXELS, make_grid
from tests.conftest import ASTRONAUT, assert_user_error, run_cli


def test_an_interpolation_row_too_large_to_read_back_is_refused(tmp_path: Path) -> None:
    """--steps 256 --zoom 16 wrote a 270-megapixel PNG (3 GB of memory) that aaae then refused to read."""
    out = tmp_path / "row.png"
    result = run_cli(
        "interpolate", str(ASTRONAUT), str(ASTRONAUT), "--steps", "256", "--zoom", "16", "-o", str(out),
        "--model", "faces", "--device", "cpu",
    )  # fmt: skip
    assert_user_error(result, "too many for one grid image")
    assert not out.exists()
    edited = tmp_path / "sweep.png"
    result = run_cli(
        "edit", str(ASTRONAUT), "--attr", "smiling", "--sweep", "0:1:64", "--compare", "--zoom", "16",
        "-o", str(edited), "--model", "faces", "--device", "cpu",
    )  # fmt: skip
    assert_user_error(result, "too many for one grid image")
    assert not edited.exists()


def test_no_grid_is_made_that_aaae_cannot_read() -> None:
    tiles = np.zeros((3, 6000, 6000, 1), np.uint8)  # 3 x 36 MP: each readable, the row is not
    assert 6000 * 6000 < MAX_PIXELS < 3 * 6000 * 6000
    with pytest.raises(UserError, match="megapixel limit"):
        make_grid(tiles, cols=3)


def test_thread_counts_beyond_reason_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    for value in ("100000", "many"):
        result = run_cli("sample", "-n", "1", str(out), "--model", "digits", env={"AAAE_THREADS": value})
        assert_user_error(result, f"AAAE_THREADS={value!r}" if not value.isdigit() else "AAAE_THREADS 100000")
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_given_as_an_image_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    out = tmp_path / "out.png"
    result = run_cli("reconstruct", str(fifo), "-o", str(out), "--model", "digits", timeout=60)
    assert_user_error(result, "photo.png", "FIFO")
    result = run_cli("interpolate", str(fifo), str(ASTRONAUT), "-o", str(out), "--model", "digits", timeout=60)
    assert_user_error(result, "photo.png", "FIFO")
    assert not out.exists()
