"""Photos in bounded memory and time, written back as they were (issue #23 items 2, 4, 7, 10, 15, 16).

The hostile photos are made here, small and fast: a crowd is a public-domain portrait (tests/data) tiled many
times; large photos are generated as flat or striped images that compress to a few hundred kilobytes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import DATA

FACE = DATA / "astronaut-face.jpg"


def crowd(side: int, tile: int) -> Image.Image:
    """A ``side`` x ``side`` photo tiled with the astronaut's face at ``tile`` pixels: (side // tile)^2 faces."""
    face = Image.open(FACE).convert("RGB").resize((tile, tile), Image.Resampling.LANCZOS)
    photo = Image.new("RGB", (side, side))
    for y in range(0, side - tile + 1, tile):
        for x in range(0, side - tile + 1, tile):
            photo.paste(face, (x, y))
    return photo


_PEAK = (
    "import json, resource, subprocess, sys, time; t = time.monotonic(); "
    "r = subprocess.run([sys.executable, '-m', 'aaae_cli', *sys.argv[1:]], capture_output=True, text=True); "
    "print(json.dumps([r.returncode, r.stdout, r.stderr, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.monotonic() - t]))"
)


def run_measured(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float, float]:
    """The real ``aaae`` command run in a fresh process; its result, its peak resident memory (MB) and seconds.

    A wrapper process runs it, so the peak is the command's own (Linux carries a parent's peak into children)."""
    import json

    done = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    code, stdout, stderr, peak_mb, seconds = json.loads(done.stdout)
    return subprocess.CompletedProcess(args, code, stdout, stderr), peak_mb, seconds


# ---------------------------------------------------------------- item 2: the face detector is bounded


def test_a_photo_tiled_with_small_faces_is_searched_in_bounded_memory_and_time(tmp_path: Path) -> None:
    """1,024 faces of 40 px in a 150 KB PNG made ~13,000 proposals, run in one batch: 6 GB and 40 s."""
    from aaae_cli.faces import MAX_CANDIDATES

    path = tmp_path / "crowd.png"
    crowd(1280, 40).save(path, optimize=True)
    assert path.stat().st_size < 200_000
    result, peak_mb, seconds = run_measured("faces", str(path))
    assert result.returncode == 0, result.stderr
    found = result.stdout.count("confidence")
    assert 100 < found <= MAX_CANDIDATES, found
    assert peak_mb < 800, peak_mb
    assert seconds < 120, seconds


def test_a_crowd_is_edited_a_few_faces_at_a_time(monkeypatch) -> None:
    """Each face's change is up to 12 MB: a crowd's changes are made and laid in FACES_PER_STEP at a time, and
    every face is still edited, each seen as it was in the photo."""
    import aaae_cli as aaae
    from aaae_cli import photo_edit

    model = aaae.load("faces", device="cpu")
    photo = model.load_photo(np.asarray(crowd(640, 128)))  # 25 faces
    frames = model.frames(photo, every=True)
    assert len(frames) == 25
    sizes: list[int] = []
    real = photo_edit.frame_changes

    def counted(model, pixels, frames, *args, **kwargs):
        sizes.append(len(frames))
        return real(model, pixels, frames, *args, **kwargs)

    monkeypatch.setattr(photo_edit, "frame_changes", counted)
    original = photo.pixels.copy()
    (edited,) = photo_edit.edit_pixels(model, photo, frames, {"Eyeglasses": 1.0}, in_place=True)
    assert max(sizes) <= photo_edit.FACES_PER_STEP and sum(sizes) == 25
    tiles = (edited != original).any(axis=2).reshape(5, 128, 5, 128).any(axis=(1, 3))
    assert tiles.all(), tiles
