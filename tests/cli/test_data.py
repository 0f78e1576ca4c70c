"""``aaae data pack``: the archive tool as an ``aaae`` command (it was only ``python -m aaae_train.archive``, which
still works). The refusals of damaged archives and bad ``-o`` paths run through both in tests/datasets/test_archive.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.archive import read_archive
from tests.conftest import MNIST, assert_user_error, run_cli


def _photos(root: Path) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (48, 40), (i * 60, 30, 200 - i * 40)).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


def test_pack_writes_what_the_old_command_line_writes(tmp_path: Path) -> None:
    folder = _photos(tmp_path)
    new, old = tmp_path / "new.zip", tmp_path / "old.zip"
    options = ["--resolution", "32", "--format", "webp", "--quality", "80", "--cache-dir", str(tmp_path / "c")]
    packed = run_cli("data", "pack", str(folder), "-o", str(new), *options)
    assert packed.returncode == 0, packed.stderr
    assert packed.stdout.strip() == f"{new}: 4 images (1 skipped), webp"
    script = subprocess.run(
        [sys.executable, "-m", "aaae_train.archive", str(folder), "-o", str(old), *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == f"{old}: 4 images (1 skipped), webp"
    (new_manifest, new_images, _), (old_manifest, old_images, _) = read_archive(new), read_archive(old)
    assert new_manifest == old_manifest and np.array_equal(new_images, old_images)
    assert new_manifest["preprocessing"]["resolution"] == 32 and new_images.shape == (4, 32, 32, 3)
    assert new_manifest["image_format"] == "webp quality 80 (lossy)"


def test_pack_needs_no_torch(tmp_path: Path) -> None:
    """Packing reads and writes images only: a laptop without PyTorch can prepare a dataset for a GPU machine."""
    code = (
        "import sys\nfrom aaae_cli.cli import main\n"
        f"sys.argv = ['aaae', 'data', 'pack', {str(MNIST)!r}, '-o', {str(tmp_path / 'd.zip')!r},"
        f" '--cache-dir', {str(tmp_path / 'c')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print('CODE', exit.code, 'TORCH', 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "CODE 0 TORCH False" in result.stdout, result.stdout + result.stderr
    manifest, images, labels = read_archive(tmp_path / "d.zip")
    assert images.shape[1:] == (32, 32, 1) and labels is not None and len(manifest["attributes"]) == 10


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--format", "gif"], "--format gif: use png or webp"),
        (["--quality", "0"], "--quality must be from 1 to 100"),
        (["--align", "sideways"], "--align must be none or face"),
        (["--resolution", "33"], "--resolution must be one of"),
        (["--channels", "2"], "--channels must be 1 or 3"),
    ],
)
def test_bad_options_are_one_line_before_decoding(args: list[str], fragment: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = run_cli(
        "data", "pack", str(_photos(tmp_path)), "-o", str(tmp_path / "d.zip"), "--cache-dir", str(cache), *args
    )
    assert_user_error(result, fragment)
    assert not cache.exists() and not (tmp_path / "d.zip").exists()  # nothing was decoded or written


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["data", "pack", "photos"], "Missing option '--out'"),
        (["data", "pack", "-o", "d.zip"], "Missing argument 'data'"),
        (["data", "pack", "no-such-folder", "-o", "d.zip"], "no-such-folder: no such file or folder"),
        (["data", "unpack"], "No such command 'unpack'"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert_user_error(result, fragment)
    assert not list(tmp_path.iterdir())


def test_a_bare_data_shows_its_commands() -> None:
    bare = run_cli("data")
    assert bare.returncode == 2 and "pack" in bare.stdout + bare.stderr
