"""An output path equal to an input (issue #13 item 8) silently replaced the user's photo: refused unless
``--overwrite``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from aaae_cli.data.sources import read_idx
from tests.conftest import ASTRONAUT, MNIST, REPO, assert_user_error, run_cli

DIGITS = REPO / "models" / "digits"


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


def test_faces_output_that_is_the_photo_is_refused(tmp_path: Path) -> None:
    """``aaae faces PHOTO -o PHOTO`` replaced the photo with the aligned tile, also through a link (issue 23)."""
    photo = tmp_path / "me.jpg"
    shutil.copy(ASTRONAUT, photo)
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)
    before = photo.read_bytes()
    m = ["--model", "faces"]
    assert_user_error(run_cli("faces", str(photo), "-o", str(photo), *m), "is one of the input images", "--overwrite")
    assert_user_error(run_cli("faces", str(link), "-o", str(photo), *m), "--overwrite")
    assert_user_error(run_cli("faces", str(photo), "-o", str(link), *m), "--overwrite")
    assert photo.read_bytes() == before and link.is_symlink()
    result = run_cli("faces", str(photo), "-o", str(tmp_path / "tiles.png"), *m)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tiles.png").is_file() and photo.read_bytes() == before


def test_the_model_bundle_files_are_never_replaced(tmp_path: Path) -> None:
    """The bundle's own files are inputs too: ``sample -o BUNDLE/sample.png`` broke its checksums."""
    bundle = Path(shutil.copytree(DIGITS, tmp_path / "digits"))
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    (a, _) = _photos(tmp_path / "photos")
    m = ["--model", str(bundle)]
    sample = run_cli("sample", "-n", "1", str(bundle / "sample.png"), *m, "--seed", "0")
    assert_user_error(sample, "sample.png", "a file of the model bundle")
    assert_user_error(run_cli("sample", "-n", "2", "--separate", str(bundle), *m), "folder of the model bundle")
    recon = run_cli("reconstruct", str(a), "-o", str(bundle / "sample.png"), *m, "--overwrite")
    assert_user_error(recon, "a file of the model bundle")
    edit = run_cli("edit", str(a), "--attr", "digit_1", "-o", str(bundle / "sample.png"), *m, "--overwrite")
    assert_user_error(edit, "a file of the model bundle")
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before


def test_eval_json_does_not_replace_what_it_reads(tmp_path: Path) -> None:
    data = Path(shutil.copytree(MNIST, tmp_path / "mnist"))
    images = data / "train-images-idx3-ubyte.gz"
    before = images.read_bytes()
    common = ["eval", "--model", "digits", "-n", "2"]
    assert_user_error(run_cli(*common, "--data", str(images), "--json", str(images)), "the --data file")
    in_folder = run_cli(*common, "--data", str(data), "--json", str(data / "train-labels-idx1-ubyte.gz"))
    assert_user_error(in_folder, "in the --data folder")
    config = DIGITS / "config.json"
    assert_user_error(run_cli(*common, "--data", str(images), "--json", str(config)), "a file of the model bundle")
    assert images.read_bytes() == before
