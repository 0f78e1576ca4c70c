"""``aaae edit photos/ -o out/`` (issue 23 item 12): every photo gets its own output name, the output folder is
checked before any work (a file in the way of a sub-folder, files that would be replaced), and the photos appear
only once all were written. On the shipped digits model (no face detection: fast)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import assert_user_error, mount_small_disk, run_cli

M = ["--attr", "digit_1", "--model", "digits"]


def _digit(path: Path, value: int = 40, side: int = 28) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((side, side), value, np.uint8)
    pixels[side // 4 : 3 * side // 4, side // 2 - 2 : side // 2 + 2] = 250
    Image.fromarray(pixels).save(path)
    return path


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry below ``folder`` (hidden ones too): file contents, or None for a folder."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def test_photos_whose_output_names_clash_are_all_written(tmp_path: Path) -> None:
    """``a.png`` and ``a.bmp`` both became ``a.png``: "wrote 2", one lost."""
    photos = tmp_path / "photos"
    _digit(photos / "a.png")
    _digit(photos / "a.bmp", 60)
    _digit(photos / "sub" / "c.bmp")
    out = tmp_path / "out"
    result = run_cli("edit", str(photos), "-o", str(out), *M)
    assert result.returncode == 0, result.stderr
    assert sorted(_tree(out)) == ["a-bmp.png", "a.png", "sub", "sub/c.png"]
    text = " ".join(result.stderr.split())
    assert "wrote 3 photo(s)" in text and "1 renamed" in text and "a.bmp -> a-bmp.png" in text
    with Image.open(out / "a-bmp.png") as bmp, Image.open(out / "a.png") as png:
        assert np.asarray(bmp)[0, 0] == 60 and np.asarray(png)[0, 0] == 40  # each from its own photo


def test_files_already_in_the_output_folder_are_replaced_only_with_overwrite(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    _digit(photos / "a.png")
    _digit(photos / "b.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"the user's own file")
    (out / "a.png").chmod(0o444)
    (out / "notes.txt").write_text("kept")
    before = _tree(out)
    result = run_cli("edit", str(photos), "-o", str(out), *M)
    assert_user_error(result, "a.png: already in the output folder", "--overwrite")
    assert _tree(out) == before
    result = run_cli("edit", str(photos), "-o", str(out), *M, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(_tree(out)) == ["a.png", "b.png", "notes.txt"]
    assert (out / "a.png").read_bytes() != b"the user's own file" and (out / "notes.txt").read_text() == "kept"


def test_a_blocked_output_sub_folder_is_one_error_and_nothing_written(tmp_path: Path) -> None:
    """A file where an output sub-folder must go gave a traceback and a partial output folder."""
    photos = tmp_path / "photos"
    _digit(photos / "a.png")
    _digit(photos / "sub" / "b.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("in the way")
    before = _tree(out)
    result = run_cli("edit", str(photos), "-o", str(out), *M)
    assert_user_error(result, "sub: is a file where an output sub-folder must go")
    assert _tree(out) == before
    (out / "sub").unlink()
    (out / "sub").mkdir()
    (out / "sub" / "b.png").mkdir()  # a folder where a photo must go
    result = run_cli("edit", str(photos), "-o", str(out), *M, "--overwrite")
    assert_user_error(result, "b.png: is a folder where an edited photo must go")
    assert sorted(_tree(out)) == ["sub", "sub/b.png"]
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root may write anywhere
        (out / "sub" / "b.png").rmdir()
        (out / "sub").chmod(0o500)
        try:
            result = run_cli("edit", str(photos), "-o", str(out), *M)
            assert_user_error(result, "cannot write in this output sub-folder")
        finally:
            (out / "sub").chmod(0o700)
        assert sorted(_tree(out)) == ["sub"]


def test_a_full_disk_leaves_no_partial_output_folder(tmp_path: Path) -> None:
    """The first photo fits, the second does not: the output folder must not appear with only the first."""
    disk = tmp_path / "disk"
    mount_small_disk(disk, "256k")
    try:
        photos = tmp_path / "photos"
        _digit(photos / "a.png")
        noise = np.random.default_rng(0).integers(0, 256, (700, 700), dtype=np.uint8)  # about 500 kB as PNG
        Image.fromarray(noise).save(photos / "b.png")
        result = run_cli("edit", str(photos), "-o", str(disk / "out"), *M)
        assert_user_error(result, "cannot write")
        assert list(disk.iterdir()) == [], "a partial output folder or a temporary was left behind"
        (disk / "out").mkdir()
        (disk / "out" / "old.png").write_bytes(b"kept")
        result = run_cli("edit", str(photos), "-o", str(disk / "out"), *M)
        assert_user_error(result, "cannot write")
        assert _tree(disk / "out") == {"old.png": b"kept"}
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_an_output_folder_holding_the_input_folder_reads_its_photos(tmp_path: Path) -> None:
    """``aaae edit photos -o .`` said "no image files": the photos were taken for outputs (issue 23 item 16)."""
    _digit(tmp_path / "photos" / "a.png")
    result = run_cli("edit", "photos", "-o", ".", *M, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 1 photo(s)" in result.stderr
    assert (tmp_path / "a.png").is_file()
