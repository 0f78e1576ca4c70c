"""The Python API behind the commands: ``aaae_cli.load(...)`` and :class:`aaae_cli.api.Model`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aaae_cli
from aaae_cli.bundle.folder import write_manifest
from aaae_cli.images import load_image
from tests.conftest import ASTRONAUT


@pytest.fixture(scope="module")
def model(tiny_bundle: Path) -> aaae_cli.Model:
    return aaae_cli.load(tiny_bundle, device="cpu")


def test_import_is_light() -> None:
    script = "import sys, aaae_cli; print('onnxruntime' in sys.modules, 'torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stdout.split() == [
        "False",
        "False",
    ]


def test_what_the_model_is(model: aaae_cli.Model, tiny_bundle: Path) -> None:
    assert (model.resolution, model.channels, model.z_dim, model.c_dim) == (32, 1, 64, 128)
    assert model.path == tiny_bundle and model.config["training"]["data"]["name"] == "mnist"
    assert "digit_3" in model.attributes and "DIGIT_3" in model.attributes and "digit_10" not in model.attributes
    assert model.attributes["Digit_3"].name == "digit_3"
    assert "32x32x1" in repr(model) and "10 attributes" in repr(model)
    model.sample(1, seed=0)
    assert model.providers == ["CPUExecutionProvider"]


def test_sample(model: aaae_cli.Model) -> None:
    images = model.sample(5, seed=11)
    assert images.shape == (5, 32, 32, 1) and images.dtype == np.uint8
    assert np.array_equal(images, model.sample(5, seed=11))
    assert not np.array_equal(images, model.sample(5, seed=12))
    assert np.array_equal(model.sample(300, seed=11)[:5], images)  # across batch boundaries too
    assert np.array_equal(model.decode(model.sample_codes(5, seed=11)), images)
    # Streaming: a billion samples start at once, one bounded batch at a time.
    first = next(model.iter_samples(10**9, seed=11))
    assert first.shape == (model.batch_size, 32, 32, 1) and np.array_equal(first[:5], images)
    with pytest.raises(aaae_cli.UserError, match="at least 1"):
        model.sample(0)
    with pytest.raises(aaae_cli.UserError, match="temperature"):
        model.sample(2, temperature=-1)


def test_images_in_every_form(model: aaae_cli.Model, digit_files: list[Path]) -> None:
    path = digit_files[0]
    expected = load_image(path, 32, 1)
    pil = Image.open(path)
    raw = np.asarray(pil)
    for form in (path, str(path), path.read_bytes(), pil, raw, raw[:, :, None], np.stack([raw] * 3, -1), expected):
        assert np.array_equal(model.prepare(form), expected), type(form)
    batch = model.prepare_batch([path, path.read_bytes()])
    assert batch.shape == (2, 32, 32, 1)
    assert np.array_equal(model.prepare_batch(np.stack([expected, expected])), batch)
    codes = model.encode([path, digit_files[1]])
    assert codes.shape == (2, 128) and codes.dtype == np.float32
    assert np.allclose(model.encode(path)[0], codes[0], atol=1e-5)
    # A rotated photo is turned upright first (EXIF), in the API as in the CLI.
    photo = Image.open(ASTRONAUT).resize((60, 40))
    exif = photo.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    tagged = Image.open(io.BytesIO(buffer.getvalue()))
    assert np.array_equal(model.prepare(tagged), model.prepare(buffer.getvalue()))
    with pytest.raises(aaae_cli.UserError, match="uint8"):
        model.prepare(raw.astype(np.float32))


def test_decode_reconstruct_interpolate(model: aaae_cli.Model, digit_files: list[Path]) -> None:
    a, b = digit_files[0], digit_files[1]
    codes = model.encode([a, b])
    assert model.decode(codes[0]).shape == (1, 32, 32, 1)
    assert np.array_equal(model.reconstruct([a, b]), model.decode(codes))
    frames = model.interpolate(a, b, steps=6)
    assert frames.shape == (6, 32, 32, 1)
    assert np.abs(frames[[0, -1]].astype(int) - model.decode(codes).astype(int)).max() <= 1
    with pytest.raises(aaae_cli.UserError, match="shape"):
        model.decode(np.zeros((2, 5)))
    with pytest.raises(aaae_cli.UserError, match="NaN"):
        model.decode(np.full((1, 128), np.nan))
    with pytest.raises(aaae_cli.UserError, match="steps"):
        model.interpolate(a, b, steps=1)


def test_edit_uses_strength_times_scale(bundle_copy: Path, digit_files: list[Path]) -> None:
    data = json.loads((bundle_copy / "attributes.json").read_text())
    data["attributes"][3]["scale"] = 2.0  # digit_3: one unit of strength is now twice the class-mean gap
    (bundle_copy / "attributes.json").write_text(json.dumps(data))
    write_manifest(bundle_copy)
    model = aaae_cli.load(bundle_copy)
    image = digit_files[0]
    code = model.encode(image)[0]
    d3, d5 = model.attributes["digit_3"].direction, model.attributes["digit_5"].direction
    assert np.array_equal(model.edit(image, {"Digit_3": 1.5}), model.decode(code + 3.0 * d3)[0])
    both = model.edit(image, {"digit_3": 1.0, "digit_5": -0.5})
    assert np.array_equal(both, model.decode(code + 2.0 * d3 - 0.5 * d5)[0])
    sweep = model.edit_sweep(image, {"digit_3": 1.0}, [-1.0, 0.0, 1.0])
    assert np.array_equal(sweep[1], model.decode(code)[0])
    with pytest.raises(aaae_cli.UserError, match="did you mean 'digit_3'"):
        model.edit(image, {"digit3": 1.0})
