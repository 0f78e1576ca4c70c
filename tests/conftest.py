"""Shared fixtures: the real MNIST digits in tests/data, small training options, CLI runners."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from aaae_cli.utils.progress import Silent

REPO = Path(__file__).resolve().parent.parent  # the repository root
DATA = REPO / "tests" / "data"
MNIST = DATA / "mnist"
ASTRONAUT = DATA / "astronaut.jpg"

# A small, fast model: 1/8 of the paper's channels, 32x32 digits.
TINY = ["--width", "0.125", "--batch-size", "32", "--no-progress", "--workers", "1"]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the real ``aaae`` command in a fresh Python process."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "aaae_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=full_env,
    )


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, one ``error:`` line on stderr naming the problem, no traceback, nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    error_lines = [line for line in lines if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    text = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in text, (fragment, result.stderr)


# ---------------------------------------------------------------- one tiny model per session (issue #3)

TINY_TRAIN = ["--max-steps", "150", "--lr", "1e-3", "--approx-steps", "200"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained once per test session on the real digits in tests/data (~10 s)."""
    root = tmp_path_factory.mktemp("tiny")
    run = root / "run"
    result = run_cli("train", str(MNIST), "--out", str(run), "--cache-dir", str(root / "cache"), *TINY, *TINY_TRAIN)
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``aaae export`` of :func:`tiny_run`, done once per session. Do not modify: copy it first."""
    out = tmp_path_factory.mktemp("bundles") / "digits"
    result = run_cli("export", str(tiny_run), str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny bundle, for tests that damage or extend it."""
    import shutil

    return Path(shutil.copytree(tiny_bundle, tmp_path / "digits"))


@pytest.fixture(scope="session")
def digit_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The held-out digits of tests/data (the tiny model never trained on them) as 28x28 PNG files named
    ``INDEX-LABEL.png``."""
    import numpy as np
    from PIL import Image

    from aaae_cli.data.sources import in_validation, mnist_key, read_idx

    images = read_idx(MNIST / "train-images-idx3-ubyte.gz")
    labels = read_idx(MNIST / "train-labels-idx1-ubyte.gz")
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i in [i for i in range(len(images)) if in_validation(mnist_key(i), 0.05)]:
        path = folder / f"{i:03d}-{int(labels[i])}.png"
        Image.fromarray(np.asarray(images[i])).save(path)
        paths.append(path)
    return paths


def mount_small_disk(folder: Path, size: str) -> None:
    """Mount a tmpfs of ``size`` (e.g. "256k") at ``folder``; skip the test where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here ({mounted.stderr.decode().strip() or 'not permitted'})")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 256 kB file system mounted for this test (a full disk on demand); skipped where mounting is not allowed."""
    folder = tmp_path / "small-disk"
    mount_small_disk(folder, "256k")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


class BarRecorder(Silent):
    """A :class:`aaae_cli.utils.progress.Progress` that says nothing and records each bar as [description, total,
    units advanced], for tests of what long work reports."""

    def __init__(self) -> None:
        self.bars: list[list] = []

    @contextlib.contextmanager
    def task(self, description: str, total: int, **_: object) -> Iterator[SimpleNamespace]:
        bar = [description, total, 0]
        self.bars.append(bar)
        yield SimpleNamespace(advance=lambda n=1: bar.__setitem__(2, bar[2] + n), update=lambda **_: None)
