"""An output path equal to an input (issue #13 item 8) silently replaced the user's photo: refused unless
``--overwrite``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from aaae_cli.datasets import read_idx
from tests.conftest import MNIST, assert_user_error, run_cli


def _photos(folder: Path) -> list[Path]:
    folder.mkdir()
    digits = read_idx(MNIST / "train-images-idx3-ubyte.gz")
    paths = []
    for i in range(2):
        paths.append(folder / f"{i}.png")
        Image.fromarray(np.asarray(digits[i])).save(paths[-1])
    return paths


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    a, b = _photos(tmp_path / "photos")
    before = a.read_bytes()
    m = ["--model", "digits"]
    assert_user_error(run_cli("reconstruct", str(a), "-o", str(a), *m), "is one of the input images", "--overwrite")
    alias = tmp_path / "photos" / ".." / "photos" / "0.png"  # the same file, spelled differently
    assert_user_error(run_cli("edit", str(a), "--attr", "digit_1", "-o", str(alias), *m), "--overwrite")
    assert_user_error(run_cli("interpolate", str(a), str(b), "-o", str(b), *m), "--overwrite")
    folder = str(tmp_path / "photos")
    assert_user_error(run_cli("reconstruct", folder, "--separate", folder, *m), "0.png", "--overwrite")
    assert a.read_bytes() == before
    result = run_cli("reconstruct", str(a), "-o", str(a), *m, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert a.read_bytes() != before
