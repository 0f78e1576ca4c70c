"""Tracebacks that became one ``error:`` line (issue #13 item 11)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

import aaae_cli
from aaae_cli.errors import UserError
from tests.conftest import MNIST, TINY, TINY_TRAIN, assert_user_error, mount_small_disk, run_cli

DIGITS = Path(aaae_cli.__file__).parent.parent / "models" / "digits"


def test_a_negative_seed(tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    assert_user_error(run_cli("sample", "-n", "1", str(out), "--model", "digits", "--seed", "-1"), "--seed -1")
    assert not out.exists()
    with pytest.raises(UserError, match="seed -1"):
        aaae_cli.load("digits").sample(1, seed=-1)


def test_a_webp_wider_than_webp_allows(tmp_path: Path) -> None:
    out = tmp_path / "row.webp"
    result = run_cli("sample", "-n", "40", "--cols", "40", "--zoom", "16", str(out), "--model", "digits")
    assert_user_error(result, "too large for WEBP", "16383")
    assert not out.exists()


def test_eval_options_found_before_the_run(tmp_path: Path) -> None:
    m = ["eval", "--model", "digits", "--data", str(MNIST)]
    assert_user_error(run_cli(*m, "--json", str(tmp_path / "missing" / "r.json")), "does not exist")
    assert_user_error(run_cli(*m, "--held-out", "0"), "--held-out must be at least 1")
    assert_user_error(run_cli(*m, "--seed", "-1"), "--seed -1")


def test_a_damaged_dds_file(tmp_path: Path) -> None:
    """Pillow raises NotImplementedError for an unknown DDS pixel format (and RuntimeError for bad AVIF)."""
    data = io.BytesIO()
    Image.new("RGB", (32, 32)).save(data, "DDS")
    damaged = bytearray(data.getvalue())
    damaged[80:88] = (4).to_bytes(4, "little") + b"ZZZZ"  # a FOURCC pixel format no one knows
    bad = tmp_path / "texture.dds"
    bad.write_bytes(bytes(damaged))
    result = run_cli("reconstruct", str(bad), "-o", str(tmp_path / "out.png"), "--model", "digits")
    assert_user_error(result, "texture.dds", "cannot decode image")


def test_a_damaged_options_json_or_metrics_line_on_resume(tiny_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    args = ["train", str(MNIST), "--out", str(run), "--cache-dir", str(tmp_path / "cache"), *TINY, *TINY_TRAIN]
    options = (run / "options.json").read_text()
    (run / "options.json").write_text("[]")
    assert_user_error(run_cli(*args), "options.json", "unreadable")
    (run / "options.json").write_text(options)
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write('5\n{"step": "x"}\n[1, 2]\n')
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr


def test_a_full_disk_during_attributes_compute(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    mount_small_disk(disk, "12m")  # room for the 7 MB bundle, not for a second copy of it
    try:
        bundle = Path(shutil.copytree(DIGITS, disk / "digits"))
        before = {p.name: p.read_bytes() for p in bundle.iterdir()}
        result = run_cli("attributes", "compute", "--model", str(bundle), "--data", str(MNIST), "--replace")
        assert_user_error(result, "cannot write the bundle", "nothing was changed")
        assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before
        assert [p.name for p in disk.iterdir()] == ["digits"], "a temporary was left behind"
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_gif_frame_duration_beyond_what_gif_stores(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    Image.new("L", (28, 28), 0).save(a)
    out = tmp_path / "m.gif"
    result = run_cli("interpolate", str(a), str(a), "--duration", "99999999999999", "-o", str(out), "--model", "digits")
    assert_user_error(result, "--duration", "655350 ms")
    assert not out.exists()


def test_a_gif_is_capped_like_a_grid(tmp_path: Path) -> None:
    """``interpolate --steps 256 --zoom 16 -o x.gif`` had no cap (3.76 GB for a 66 MB GIF with the faces model):
    frames are counted as a grid's images are, and refused before any work (issue 23)."""
    a = tmp_path / "a.png"
    Image.new("L", (28, 28), 0).save(a)
    out = tmp_path / "m.gif"
    m = ["--model", "digits"]
    result = run_cli(
        "interpolate", str(a), str(a), "--steps", "256", "--with-inputs", "--zoom", "16", "-o", str(out), *m
    )
    assert_user_error(result, "258 frames are too many for one GIF at 512x512 (at most 256)", "--steps")
    assert not out.exists()
    b = tmp_path / "b.png"
    Image.new("L", (28, 28), 255).save(b)
    result = run_cli("interpolate", str(a), str(b), "--steps", "4", "--zoom", "2", "-o", str(out), *m)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as gif:  # there and back: 4 frames, then the middle two again
        assert (gif.n_frames, gif.size) == (6, (64, 64))


@pytest.mark.parametrize(("option", "value"), [("patience", -1), ("seed", -1), ("approx_steps", -5), ("z_dim", 0)])
def test_training_options_out_of_range(option: str, value: int) -> None:
    from aaae_train.options import TrainOptions

    with pytest.raises(UserError):
        TrainOptions(data=[str(MNIST)], out="run", **{option: value}).validate()


def test_an_attribute_kept_twice_is_named_once(tmp_path: Path) -> None:
    """``--keep digit_2,DIGIT_2 --keep digit_2`` said "keeping digit_2, digit_2, digit_2" (issue 23)."""
    image = tmp_path / "a.png"
    Image.new("L", (28, 28), 0).save(image)
    out = tmp_path / "b.png"
    keep = ["--keep", "digit_2,DIGIT_2", "--keep", "digit_2"]
    result = run_cli("edit", str(image), "--attr", "digit_1", *keep, "-o", str(out), "--model", "digits")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "keeping digit_2)" in text, text
