"""Hostile and damaged prepared-dataset archives (issue #23 items 8 and 11) and ``aaae data pack -o``.

A 73 KB zip whose manifest claimed 10 million images made ``aaae train x.zip`` ask for 458 GiB before it read a
member; broken deflate data, an encrypted or unknown-method member, a DDS image named ``.png`` and label arrays of
string, void, structured or datetime types ended in tracebacks. Each is now one ``error:`` line, exit 2. The
archive tool reads archives with the same code as training and needs no torch, so most cases go through it (about
a second each), as ``aaae data pack`` and under its old name ``python -m aaae_train.archive``; the issue's own
command goes through ``aaae train``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.archive import read_archive
from tests.conftest import assert_user_error, run_cli
from tests.hostile_archives import DAMAGED, good_archive, lying_manifest

# The archive tool's two command lines: the aaae command, and its old name, kept for scripts.
ARCHIVE_TOOLS = {"aaae data pack": ["-m", "aaae_cli", "data", "pack"], "python -m": ["-m", "aaae_train.archive"]}


@pytest.fixture(params=list(ARCHIVE_TOOLS))
def archive_tool(request: pytest.FixtureRequest) -> list[str]:
    """The archive tool's command line, each of the two in turn."""
    return [sys.executable, *ARCHIVE_TOOLS[request.param]]


def run_archive_tool(tool: list[str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The archive tool ``tool`` with ``ARGS``, in a fresh process."""
    return subprocess.run([*tool, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_archive_is_one_line(tmp_path: Path, damage: str, archive_tool: list[str]) -> None:
    build, message = DAMAGED[damage]
    bad = build(good_archive(tmp_path), tmp_path / f"{damage}.zip")
    out = tmp_path / "out.zip"
    result = run_archive_tool(archive_tool, str(bad), "-o", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert_user_error(result, message)
    assert not out.exists()


def test_aaae_train_refuses_a_lying_manifest_before_allocating(tmp_path: Path) -> None:
    """The issue's case, 128x128 RGB: 10 million claimed images would be 458 GiB."""
    good = good_archive(tmp_path, {"resolution": 128, "channels": 3, "crop": 1.0, "align": "none"})
    lying = lying_manifest(good, tmp_path / "x.zip")
    assert lying.stat().st_size < 400_000  # three random 128x128 images and the deflated manifest
    run = tmp_path / "run"
    result = run_cli("train", str(lying), "--out", str(run), "--cache-dir", str(tmp_path / "c"), "--no-progress")
    assert_user_error(result, "x.zip: dataset.json is larger than the keys of its 5 members")
    assert not run.exists()


def test_aaae_train_refuses_a_broken_member_in_one_line(tmp_path: Path) -> None:
    build, message = DAMAGED["broken-deflate"]
    bad = build(good_archive(tmp_path), tmp_path / "bad.zip")
    run = tmp_path / "run"
    result = run_cli("train", str(bad), "--out", str(run), "--cache-dir", str(tmp_path / "c"), "--no-progress")
    assert_user_error(result, message)
    assert not run.exists()


def _folder(root: Path) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (i * 80, 30, 200)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (".", "name the archive *.zip"),
        ("faces.txt", "name the archive *.zip"),
        ("missing/faces.zip", "folder missing does not exist"),
        ("folder.zip", "is a folder"),
    ],
)
def test_the_archive_tool_checks_its_output_before_decoding(
    tmp_path: Path, out: str, message: str, archive_tool: list[str]
) -> None:
    folder = _folder(tmp_path)
    (tmp_path / "folder.zip").mkdir()
    cache = tmp_path / "cache"
    result = run_archive_tool(archive_tool, str(folder), "-o", out, "--cache-dir", str(cache), cwd=tmp_path)
    assert_user_error(result, message)
    assert not cache.exists()  # nothing was decoded
    assert not (tmp_path / "faces.txt").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_the_archive_tool_refuses_an_unwritable_folder_before_decoding(tmp_path: Path, archive_tool: list[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    cache = tmp_path / "cache"
    result = run_archive_tool(
        archive_tool, str(_folder(tmp_path)), "-o", str(locked / "a.zip"), "--cache-dir", str(cache)
    )
    assert_user_error(result, "permission denied")
    assert not cache.exists()


def test_the_archive_tool_repacks_an_archive_but_never_over_itself(tmp_path: Path, archive_tool: list[str]) -> None:
    good = good_archive(tmp_path)
    before = good.read_bytes()
    result = run_archive_tool(archive_tool, str(good), "-o", str(good), "--cache-dir", str(tmp_path / "c"))
    assert_user_error(result, "is one of the data paths")
    assert good.read_bytes() == before
    webp = tmp_path / "small.zip"  # as prepared (32x32 grayscale), not the folder defaults (64x64 RGB)
    result = run_archive_tool(
        archive_tool, str(good), "-o", str(webp), "--format", "webp", "--cache-dir", str(tmp_path / "c")
    )
    assert result.returncode == 0, result.stderr
    manifest, images, labels = read_archive(webp)
    original_manifest, original, original_labels = read_archive(good)
    assert manifest["keys"] == original_manifest["keys"] and images.shape == original.shape
    assert labels is not None and np.array_equal(labels, original_labels)
    assert zipfile.ZipFile(webp).namelist()[-1].endswith(".webp")
