"""Photos in bounded memory and time, written back as they were (issue #23 items 2, 4, 7, 10, 15, 16).

The hostile photos are made here, small and fast: a crowd is a public-domain portrait (tests/data) tiled many
times; large photos are generated as flat or striped images that compress to a few hundred kilobytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import ASTRONAUT, DATA, REPO, assert_user_error, run_cli

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
    from aaae_cli.photos.detect import MAX_CANDIDATES

    path = tmp_path / "crowd.png"
    crowd(1280, 40).save(path, optimize=True)
    assert path.stat().st_size < 200_000
    result, peak_mb, seconds = run_measured("faces", str(path))
    assert result.returncode == 0, result.stderr
    assert peak_mb < 800, peak_mb
    assert seconds < 120, seconds
    found = result.stdout.count("confidence")
    assert 100 < found <= MAX_CANDIDATES, found


def test_a_crowd_is_edited_a_few_faces_at_a_time(monkeypatch) -> None:
    """Each face's change is up to 12 MB: a crowd's changes are made and laid in FACES_PER_STEP at a time, and
    every face is still edited, each seen as it was in the photo."""
    import aaae_cli as aaae
    from aaae_cli.photos import edit as photo_edit

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


# ---------------------------------------------------------------- item 4: transparent photos come back as they were


def _transparent_astronaut(path: Path) -> np.ndarray:
    """The astronaut with alpha falling from 255 (top) to 0 (bottom) and noise as the colour of the fully
    transparent rows: every pixel below the top rows is semi- or fully transparent. Returns the RGBA array."""
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB")).copy()
    height, width = rgb.shape[:2]
    alpha = np.broadcast_to(np.clip(np.linspace(400, -40, height), 0, 255).astype(np.uint8)[:, None], (height, width))
    clear = alpha == 0
    rgb[clear] = np.random.default_rng(0).integers(0, 256, (int(clear.sum()), 3), dtype=np.uint8)
    rgba = np.dstack([rgb, alpha])
    Image.fromarray(rgba, "RGBA").save(path)
    return rgba


def test_a_transparent_photo_comes_back_bit_for_bit_at_strength_0(tmp_path: Path) -> None:
    """Every semi-transparent pixel's colour changed (composited on white and written with the old alpha), and the
    colour of fully transparent pixels was lost, even at strength 0."""
    source = tmp_path / "cutout.png"
    rgba = _transparent_astronaut(source)
    assert ((rgba[:, :, 3] > 0) & (rgba[:, :, 3] < 255)).mean() > 0.5
    out = tmp_path / "same.png"
    result = run_cli("edit", str(source), "--attr", "male", "--strength", "0", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as img:
        assert img.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(img), rgba)


def test_a_transparent_photo_changes_only_in_the_edited_face(tmp_path: Path) -> None:
    import aaae_cli as aaae

    source = tmp_path / "cutout.png"
    rgba = _transparent_astronaut(source)
    out = tmp_path / "edited.png"
    result = run_cli("edit", str(source), "--attr", "blond_hair", "-o", str(out))
    assert result.returncode == 0, result.stderr
    edited = np.asarray(Image.open(out))
    changed = (edited != rgba).any(axis=2)
    assert changed.any()
    np.testing.assert_array_equal(edited[:, :, 3], rgba[:, :, 3])  # alpha untouched
    model = aaae.load("faces", device="cpu")
    (frame,) = model.frames(model.load_photo(source))
    x0, y0 = np.floor(frame.corners().min(0)).astype(int) - 2
    x1, y1 = np.ceil(frame.corners().max(0)).astype(int) + 2
    outside = np.ones_like(changed)
    outside[max(0, y0) : y1, max(0, x0) : x1] = False
    assert not changed[outside].any()


# ---------------------------------------------------------------- item 15: only metadata that describes the output


def _profile(space: bytes) -> bytes:
    """A (minimal) ICC profile header declaring colour space ``space``: all a writer looks at."""
    header = bytearray(128)
    header[0:4] = (128).to_bytes(4, "big")
    header[12:16] = b"mntr"
    header[16:20] = space
    header[20:24] = b"XYZ "
    header[36:40] = b"acsp"
    return bytes(header)


def test_a_cmyk_or_grayscale_profile_is_not_put_on_an_rgb_output(tmp_path: Path) -> None:
    """An RGB edit of a CMYK photo carried its CMYK profile: viewers then showed its colours wrong."""
    cases = {
        "cmyk.jpg": (Image.open(ASTRONAUT).convert("CMYK"), b"CMYK", None),
        "gray.png": (Image.open(ASTRONAUT).convert("L"), b"GRAY", None),
        "rgb.png": (Image.open(ASTRONAUT).convert("RGB"), b"RGB ", _profile(b"RGB ")),
    }
    for name, (img, space, kept) in cases.items():
        source = tmp_path / name
        img.save(source, icc_profile=_profile(space))
        out = tmp_path / f"out-{name}"
        result = run_cli("edit", str(source), "--attr", "male", "-o", str(out))
        assert result.returncode == 0, (name, result.stderr)
        with Image.open(out) as edited:
            assert edited.mode == "RGB", name
            assert edited.info.get("icc_profile") == kept, name


def test_a_tiff_with_many_strips_is_saved_as_jpeg_without_its_layout_tags(tmp_path: Path) -> None:
    """Pillow reads a TIFF's layout (strip offsets and sizes) as EXIF; written into a JPEG it was too long for a
    large TIFF ("EXIF data is too long", exit 2) and wrong for any."""
    canvas = Image.new("RGB", (512, 8400), (120, 120, 120))
    canvas.paste(Image.open(ASTRONAUT).convert("RGB"), (0, 0))
    source = tmp_path / "tall.tif"
    exif = Image.Exif()
    exif[0x010F] = "aaae test camera"  # Make: describes the picture, is kept
    canvas.save(source, compression="tiff_deflate", strip_size=512 * 3, exif=exif)
    with Image.open(source) as img:
        assert len(img.getexif().tobytes()) > 65_533  # 8,400 strips: more than a JPEG's EXIF can hold
    out = tmp_path / "out.jpg"
    result = run_cli("edit", str(source), "--attr", "male", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as img:
        written = img.getexif()
        assert img.size == (512, 8400)
    assert 273 not in written and 279 not in written and 256 not in written  # strip offsets, counts, width
    assert written.get(0x010F) == "aaae test camera"


# ---------------------------------------------------------------- item 16: photos up to the stated 100 MP limit


def test_a_90_megapixel_photo_is_read_and_a_larger_one_refused(tmp_path: Path) -> None:
    """PIL warns from 89.5 MP on, and the warning was taken as a decompression bomb: the stated limit is 100 MP."""
    from aaae_cli.images import MAX_PIXELS

    legal = tmp_path / "legal.png"
    Image.new("L", (9500, 9450), 90).save(legal)  # 89.8 MP, a few kB
    assert 89_478_485 < 9500 * 9450 < MAX_PIXELS
    out = tmp_path / "out.png"
    result = run_cli("reconstruct", str(legal), "--model", "digits", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.exists()
    over = tmp_path / "over.png"
    Image.new("1", (10_100, 10_000)).save(over)  # 101 MP
    assert_user_error(run_cli("reconstruct", str(over), "--model", "digits", "-o", str(out)), "megapixel limit")


# ---------------------------------------------------------------- item 7: a frame is cut reduced, its template bounded


def test_a_template_that_frames_faces_many_times_their_size_is_refused(tmp_path: Path) -> None:
    """Eyes 0.05 of the frame apart passed the check: frames 20 faces wide, 9.4 GiB cut from a large photo."""
    import shutil

    from aaae_cli.photos.align import FACE_TEMPLATE
    from tests.hostile import rewrite_json

    bundle = tmp_path / "faces"
    shutil.copytree(REPO / "models" / "faces", bundle)
    centre = FACE_TEMPLATE.mean(0)
    shrunk = centre + (FACE_TEMPLATE - centre) * 0.2  # eyes 0.056 apart: a frame 18 eye distances across

    def hostile(config: dict) -> None:
        config["preprocessing"]["landmarks"]["points"] = shrunk.tolist()

    rewrite_json(bundle, "config.json", hostile)
    out = tmp_path / "out.jpg"
    result = run_cli("edit", str(ASTRONAUT), "--attr", "male", "--model", str(bundle), "-o", str(out))
    assert_user_error(result, "landmark template's eyes are too close together")
    assert not out.exists()


def test_a_frame_much_larger_than_the_photo_is_cut_from_the_photos_pixels_only() -> None:
    """``cut`` built the frame's whole bounding box at photo resolution before reducing it (108 MB here, 9.4 GiB
    for the hostile template on a large photo); reduced first, it reads the photo once and holds little more."""
    import tracemalloc

    from aaae_cli.photos.align import Frame, cut

    rng = np.random.default_rng(0)
    photo = np.asarray(Image.fromarray(rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)).resize((1500, 1500)))
    side = 6000.0  # centred on the photo: four times its size
    frame = Frame(np.array([[1 / side, 0, 0.5 + 750 / side * -1], [0, 1 / side, 0.5 - 750 / side]]))
    tracemalloc.start()
    tile = cut(photo, frame, 256)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert tile.shape == (256, 256, 3)
    assert peak < 30e6, peak
    # The pixels of reducing the whole region (edges repeated) with PIL, on a smaller frame partly outside (PIL
    # rounds some exact halves down: one grey level at most).
    small = photo[:400, :300]
    frame = Frame(np.array([[1 / 900, 0, 100 / 900], [0, 1 / 900, 50 / 900]]))  # x -100..800, y -50..850
    factor = int(900 / 64 / 1.5)
    assert factor > 1
    from aaae_cli.photos.align import _region, reduced_region

    x0, y0, x1, y1 = _region(frame, 300, 400)
    rows, cols = np.clip(np.arange(y0, y1), 0, 399), np.clip(np.arange(x0, x1), 0, 299)
    whole = np.asarray(Image.fromarray(small[rows[:, None], cols[None, :]]).reduce(factor))
    reduced = reduced_region(small, (x0, y0, x1, y1), factor)
    assert reduced.shape == whole.shape
    assert np.abs(reduced.astype(int) - whole).max() <= 1


# ---------------------------------------------------------------- item 10: large legal photos under 1 GB


def test_a_float_tiff_is_read_a_strip_at_a_time(tmp_path: Path) -> None:
    """A float TIFF was converted through whole-photo float64 copies: 2.4 GB for one of 42 MB. This one is 16 MP
    (64 MB of floats in a 2 MB file): 510 MB before, the photo's own size and a strip now."""
    gray = np.asarray(Image.open(ASTRONAUT).convert("L"), np.float32)[:500, :500] / 255.0
    source = tmp_path / "float.tif"
    Image.fromarray(np.kron(gray, np.ones((8, 8), np.float32)), "F").save(source, compression="tiff_deflate")
    result, peak_mb, _ = run_measured("faces", str(source))
    assert result.returncode == 0, result.stderr
    assert "1: box" in result.stdout
    assert peak_mb < 420, peak_mb


def test_a_transparent_photo_written_as_jpeg_is_composited_on_white(tmp_path: Path) -> None:
    """A JPEG holds no transparency: the photo as the model saw it (on white), not its colour under clear pixels."""
    pixels = np.asarray(Image.open(ASTRONAUT).convert("RGB")).copy()
    alpha = np.full(pixels.shape[:2], 255, np.uint8)
    alpha[-60:] = 0  # the bottom rows clear; their colour (dark) would show if the alpha were merely dropped
    source = tmp_path / "clear.png"
    Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(source)
    out = tmp_path / "out.jpg"
    result = run_cli("edit", str(source), "--attr", "smiling", "-o", str(out))
    assert result.returncode == 0, result.stderr
    written = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert written[-40:].min() >= 245
    assert np.abs(written[:200, :100] - pixels[:200, :100]).mean() < 3  # away from the face: the photo itself
