"""Bad input to the commands: one ``error:`` line on stderr, exit code 2, no traceback, no output file."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

import aaae_cli
from aaae_cli.bundle.folder import write_manifest
from aaae_cli.errors import UserError
from tests.conftest import ASTRONAUT, MNIST, REPO, TINY, TINY_TRAIN, assert_user_error, mount_small_disk, run_cli


def _fails(tmp_path: Path, *args: str, fragments: tuple[str, ...], env: dict | None = None) -> None:
    """Run a command whose output is tmp_path/out.png; check the error and that nothing was written."""
    before = set(tmp_path.rglob("*"))
    assert_user_error(run_cli(*args, env=env), *fragments)
    assert set(tmp_path.rglob("*")) == before, "a failed command left files behind"


def test_bad_images(tiny_bundle: Path, digit_files: list[Path], tmp_path: Path) -> None:
    out = str(tmp_path / "out.png")
    m = ["--model", str(tiny_bundle)]
    text = tmp_path / "notes.png"
    text.write_text("I am not a picture")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(ASTRONAUT.read_bytes()[:2000])
    empty = tmp_path / "empty"
    empty.mkdir()
    good = str(digit_files[0])
    _fails(
        tmp_path, "reconstruct", str(tmp_path / "missing.jpg"), "-o", out, *m, fragments=("missing.jpg", "no such file")
    )
    _fails(tmp_path, "reconstruct", good, str(text), "-o", out, *m, fragments=("notes.png", "not an image"))
    _fails(tmp_path, "reconstruct", str(cut), "-o", out, *m, fragments=("cut.jpg",))
    _fails(tmp_path, "reconstruct", str(empty), "-o", out, *m, fragments=("no image files",))
    _fails(tmp_path, "edit", str(text), "--attr", "digit_1", "-o", out, *m, fragments=("not an image",))
    _fails(
        tmp_path, "edit", str(tmp_path / "nope.png"), "--attr", "digit_1", "-o", out, *m, fragments=("no such file",)
    )
    _fails(tmp_path, "interpolate", good, str(cut), "-o", out, *m, fragments=("cut.jpg",))


def test_bad_options(tiny_bundle: Path, digit_files: list[Path], tmp_path: Path) -> None:
    out = str(tmp_path / "out.png")
    m = ["--model", str(tiny_bundle)]
    good = str(digit_files[0])
    _fails(
        tmp_path,
        "edit",
        good,
        "--attr",
        "digt_3",
        "-o",
        out,
        *m,
        fragments=("unknown attribute 'digt_3'", "did you mean 'digit_3'", "valid: digit_0, digit_1"),
    )
    _fails(
        tmp_path,
        "edit",
        good,
        "--attr",
        "smiling",
        "-o",
        out,
        *m,
        fragments=("unknown attribute 'smiling'", "valid: digit_0"),
    )
    _fails(
        tmp_path,
        "edit",
        good,
        "--attr",
        "digit_3",
        "--strength",
        "1",
        "--sweep",
        "-1:1:3",
        "-o",
        out,
        *m,
        fragments=("either --strength or --sweep",),
    )
    _fails(
        tmp_path, "edit", good, "--attr", "digit_3", "--sweep", "1:2", "-o", out, *m, fragments=("START:STOP:COUNT",)
    )
    _fails(tmp_path, "edit", good, "--attr", "digit_3=lots", "-o", out, *m, fragments=("not a number",))
    _fails(tmp_path, "sample", "-n", "0", out, *m, fragments=("-n must be at least 1",))
    _fails(tmp_path, "sample", "-n", "-5", out, *m, fragments=("-n must be at least 1",))
    _fails(tmp_path, "sample", "-n", "1000000000", out, *m, fragments=("too many for one grid", "--separate"))
    _fails(tmp_path, "sample", "-n", "4", out, "--temperature", "-1", *m, fragments=("--temperature",))
    _fails(tmp_path, "interpolate", good, good, "--steps", "1", "-o", out, *m, fragments=("--steps",))
    _fails(tmp_path, "sample", "-n", "4", out, "--device", "tpu", *m, fragments=("--device 'tpu'",))


def test_unwritable_outputs(tiny_bundle: Path, tmp_path: Path) -> None:
    m = ["--model", str(tiny_bundle)]
    _fails(tmp_path, "sample", "-n", "4", str(tmp_path / "no" / "such" / "dir.png"), *m, fragments=("does not exist",))
    _fails(tmp_path, "sample", "-n", "4", str(tmp_path / "out.txt"), *m, fragments=("must end in .png",))
    folder = tmp_path / "a-folder.png"
    folder.mkdir()
    _fails(tmp_path, "sample", "-n", "4", str(folder), *m, fragments=("is a folder",))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _fails(tmp_path, "sample", "-n", "4", "--separate", str(blocker), *m, fragments=("not a folder",))
    _fails(tmp_path, "sample", "-n", "4", str(blocker / "x.png"), *m, fragments=("does not exist",))
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            _fails(tmp_path, "sample", "-n", "4", str(locked / "x.png"), *m, fragments=("permission denied",))
        finally:
            locked.chmod(0o700)


def _edit_config(bundle: Path, **changes: object) -> None:
    config = json.loads((bundle / "config.json").read_text())
    config.update(changes)
    (bundle / "config.json").write_text(json.dumps(config))
    write_manifest(bundle)


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        ("missing-decoder", ("decoder.onnx is missing",)),
        ("corrupt-decoder", ("decoder.onnx does not match its checksum",)),
        ("swapped-decoder", ("decoder.onnx does not match its checksum",)),
        ("corrupt-config", ("config.json does not match its checksum",)),
        ("no-manifest", ("checksums.sha256 is missing",)),
        ("escaping-name", ("unsafe file name '../decoder.onnx'",)),
        ("newer-format", ("newer than this aaae", "upgrade")),
        ("mismatched-shapes", ("does not match config.json", "different models")),
        ("not-a-bundle", ("not an aaae bundle",)),
        ("corrupt-attributes", ("attributes.json does not match its checksum",)),
    ],
)
def test_damaged_bundles(bundle_copy: Path, tmp_path: Path, damage: str, fragments: tuple[str, ...]) -> None:
    decoder = bundle_copy / "decoder.onnx"
    if damage == "missing-decoder":
        decoder.unlink()
    elif damage == "corrupt-decoder":
        data = bytearray(decoder.read_bytes())
        data[len(data) // 2] ^= 0xFF
        decoder.write_bytes(bytes(data))
    elif damage == "swapped-decoder":
        shutil.copy(bundle_copy / "encoder.onnx", decoder)
    elif damage == "corrupt-config":
        (bundle_copy / "config.json").write_text((bundle_copy / "config.json").read_text().replace("32", "64", 1))
    elif damage == "no-manifest":
        (bundle_copy / "checksums.sha256").unlink()
    elif damage == "escaping-name":
        manifest = bundle_copy / "checksums.sha256"
        manifest.write_text(manifest.read_text().replace("  decoder.onnx", "  ../decoder.onnx"))
    elif damage == "newer-format":
        _edit_config(bundle_copy, format_version=99)
    elif damage == "mismatched-shapes":  # a self-consistent manifest, but the graphs are not for this config
        config = json.loads((bundle_copy / "config.json").read_text())
        config["preprocessing"]["resolution"] = 64
        _edit_config(bundle_copy, resolution=64, preprocessing=config["preprocessing"])
    elif damage == "not-a-bundle":
        for path in bundle_copy.iterdir():
            path.unlink()
    elif damage == "corrupt-attributes":
        (bundle_copy / "attributes.json").write_text("{}")
    out = tmp_path / "out.png"
    command = ["edit", str(ASTRONAUT), "--attr", "digit_1"] if damage == "corrupt-attributes" else ["sample", "-n", "4"]
    args = [*command, "-o", str(out)] if command[0] == "edit" else [*command, str(out)]
    assert_user_error(run_cli(*args, "--model", str(bundle_copy)), *fragments)
    assert not out.exists()


def test_model_names_and_the_hub(tiny_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    offline = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "AAAE_MODEL_PATH": ""}
    builtin = {"AAAE_MODEL_PATH": str(tiny_bundle.parent)}
    # No model given and none installed; an unknown name lists the installed ones.
    if not any((REPO / "models").glob("*/config.json")):
        _fails(tmp_path, "sample", "-n", "2", str(out), env=offline, fragments=("no model given",))
    _fails(
        tmp_path,
        "sample",
        "-n",
        "2",
        str(out),
        "--model",
        "nosuch",
        env=builtin,
        fragments=("unknown model 'nosuch'", "installed: digits"),
    )
    _fails(tmp_path, "sample", "-n", "2", str(out), "--model", "./nosuch", fragments=("no such model folder",))
    # Built-in names come from the package and $AAAE_MODEL_PATH; $AAAE_MODEL picks the default.
    assert run_cli("sample", "-n", "2", str(out), "--model", "digits", env=builtin).returncode == 0
    assert run_cli("sample", "-n", "2", str(out), env={**builtin, "AAAE_MODEL": "digits"}).returncode == 0
    out.unlink()
    # Hub ids: not cached and offline; unreachable Hub; a revision that is not cached.
    _fails(
        tmp_path,
        "sample",
        "-n",
        "2",
        str(out),
        "--model",
        "someone/nothing",
        env=offline,
        fragments=("someone/nothing", "cannot reach the Hugging Face Hub", "not in the local cache"),
    )
    unreachable = {"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    _fails(
        tmp_path,
        "sample",
        "-n",
        "2",
        str(out),
        "--model",
        "someone/nothing@v2",
        env=unreachable,
        fragments=("someone/nothing@v2", "cannot reach"),
    )
    # A cached Hub model loads with HF_HUB_OFFLINE=1 (the Hugging Face cache layout, as snapshot_download leaves it).
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--someone--digits"
    shutil.copytree(tiny_bundle, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    (repo / "refs" / "v1").write_text(commit)
    for spec in ("someone/digits", "someone/digits@v1", f"someone/digits@{commit}"):
        result = run_cli("sample", "-n", "2", str(out), "--model", spec, env=offline)
        assert result.returncode == 0, result.stderr
    _fails(
        tmp_path,
        "sample",
        "-n",
        "2",
        str(tmp_path / "o2.png"),
        "--model",
        "someone/digits@v9",
        env=offline,
        fragments=("not in the local cache",),
    )
    # A damaged cached copy is caught like a local one.
    (repo / "snapshots" / commit / "decoder.onnx").write_bytes(b"broken")
    _fails(
        tmp_path,
        "sample",
        "-n",
        "2",
        str(tmp_path / "o3.png"),
        "--model",
        "someone/digits",
        env=offline,
        fragments=("checksum",),
    )


def test_attribute_edit_on_a_model_without_attributes(bundle_copy: Path, tmp_path: Path) -> None:
    (bundle_copy / "attributes.json").unlink()
    _edit_config(bundle_copy, attributes=None)
    out = tmp_path / "out.png"
    _fails(
        tmp_path,
        "edit",
        str(ASTRONAUT),
        "--attr",
        "male",
        "-o",
        str(out),
        "--model",
        str(bundle_copy),
        fragments=("no attribute directions", "aaae attributes compute"),
    )
    listed = run_cli("attributes", "list", "--model", str(bundle_copy))
    assert listed.returncode == 0 and "no attribute directions" in listed.stdout


# --- tracebacks that became one line ------------------------------------------------------------

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
