"""Reading user images: modes, EXIF rotation, formats, and the files that must be refused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.images import ImageReadError, load_image, make_grid
from tests.conftest import ASTRONAUT


def _save(img: Image.Image, path: Path, **kw: object) -> Path:
    img.save(path, **kw)
    return path


def test_astronaut_rgb_and_gray() -> None:
    rgb = load_image(ASTRONAUT, 64, 3)
    gray = load_image(ASTRONAUT, 32, 1)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert gray.shape == (32, 32, 1)
    assert 40 < rgb.mean() < 220  # a real photo, not a blank


def test_reduced_jpeg_decode_matches_full_decode() -> None:
    """JPEG draft mode (decode at 1/2, 1/4...) must give nearly the same pixels as a full decode."""
    fast = load_image(ASTRONAUT, 32, 3).astype(float)
    full_img = Image.open(ASTRONAUT).convert("RGB").resize((32, 32), Image.Resampling.LANCZOS)
    assert np.abs(fast - np.asarray(full_img, dtype=float)).mean() < 4


def test_modes_are_converted(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red: composited on white
    out = load_image(_save(rgba, tmp_path / "a.png"), 32, 3)
    assert (out == 255).all()
    palette = Image.new("P", (40, 40))
    palette.putpalette([0, 0, 255] * 256)
    assert (load_image(_save(palette, tmp_path / "p.png"), 32, 3)[..., 2] == 255).all()
    sixteen = Image.fromarray(np.full((20, 20), 65535 // 2, dtype=np.uint16))
    value = load_image(_save(sixteen, tmp_path / "s.png"), 32, 1)
    assert abs(int(value.mean()) - 128) <= 1  # 16-bit mid-grey is 8-bit mid-grey, not clipped white
    for suffix in ("webp", "bmp"):
        img = Image.new("RGB", (50, 50), (10, 200, 30))
        assert load_image(_save(img, tmp_path / f"x.{suffix}"), 32, 3)[16, 16, 1] > 150


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    img = Image.new("L", (64, 32), 0)
    img.paste(255, (0, 0, 32, 32))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    path = _save(img, tmp_path / "r.jpg", exif=exif, quality=95)
    out = load_image(path, 32, 1, crop=1.0)[..., 0].astype(int)
    # Turned upright it is 32 wide, 64 high, with white on top; the centre crop keeps rows 16..48.
    assert out[:8].mean() > 200 and out[-8:].mean() < 50


def test_bad_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(ImageReadError, match="not an image"):
        load_image(text, 32, 3)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(ASTRONAUT.read_bytes()[:4000])
    with pytest.raises(ImageReadError, match="cannot decode"):
        load_image(truncated, 32, 3)
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.png", 32, 3)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, format="PNG")  # 144 MP, a few kB on disk
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(buffer.getvalue())
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ImageReadError, match="decompression bomb"):
        load_image(bomb, 32, 3)


def test_grid_layout() -> None:
    images = np.zeros((10, 8, 8, 3), dtype=np.uint8)
    grid = make_grid(images, cols=4, padding=2)
    assert grid.shape == (3 * 8 + 4 * 2, 4 * 8 + 5 * 2, 3)


_PEAK = """
import sys
from aaae_cli.images import load_image
open("/proc/self/clear_refs", "w").write("5")  # reset the peak-memory mark (VmHWM) after the imports
load_image(sys.argv[1], 64, 3)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print(int(status["VmHWM"].split()[0]) // 1024)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc peak-memory reset")
def test_a_large_16_bit_png_is_read_without_float_copies(tmp_path: Path) -> None:
    """Issue #13 item 15: a 16-bit PNG was converted through float64 copies (a 9,400 x 9,400 one took 2.4 GB).
    Here 16 megapixels (32 MB decoded) must be read in under 120 MB; tests/bench/image_memory.py measures the
    worst legal inputs (all under 500 MB)."""
    import subprocess
    import sys

    ramp = (np.arange(4000, dtype=np.uint32) * 16).astype(np.uint16)
    path = _save(Image.fromarray(np.broadcast_to(ramp, (4000, 4000)).copy()), tmp_path / "big16.png", compress_level=1)
    peak = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True)
    assert int(peak.stdout) < 120, f"peak {peak.stdout.strip()} MB"


def test_large_images_are_reduced_first_with_the_same_result(tmp_path: Path) -> None:
    """The reduced path (box-reduce the centre square, then Lanczos) gives the pixels of the direct one,
    EXIF turns, alpha and 16 bits included."""
    rng = np.random.default_rng(0)
    smooth = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).resize((1600, 1200), Image.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6
    cases = {
        "rgb.png": (smooth, {}),
        "turned.jpg": (smooth, {"exif": exif, "quality": 95}),
        "rgba.png": (Image.merge("RGBA", (*smooth.split(), smooth.getchannel(0))), {}),
        "sixteen.png": (Image.fromarray(np.asarray(smooth.convert("L"), dtype=np.uint16) * 257), {}),
    }
    for name, (img, options) in cases.items():
        path = _save(img, tmp_path / name, **options)
        with Image.open(path) as opened:
            direct = opened.copy()
        from PIL import ImageOps

        from aaae_cli.images import prepare_pil

        expected = prepare_pil(ImageOps.exif_transpose(direct), 32, 3, 0.8).astype(float)
        got = load_image(path, 32, 3, crop=0.8).astype(float)
        assert np.abs(got - expected).mean() < 2.0, name
