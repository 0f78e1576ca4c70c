"""Unit tests of the torch-free pieces: bundle manifest and config checks, attribute maths, option parsing,
output paths, model names. No model needed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from aaae_cli.bundle.attributes import Attribute, AttributeSet
from aaae_cli.bundle.folder import BundleConfig, BundleError, check_file_name, read_manifest
from aaae_cli.bundle.locate import _HUB_ID, open_model
from aaae_cli.cli._options import parse_edits, parse_sweep
from aaae_cli.cli._output import ImageFolderWriter
from aaae_cli.errors import UserError
from aaae_cli.evaluation.directions import compute_attributes
from aaae_cli.images import check_output_path, zoom
from aaae_cli.runtime import check_device


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "a\\b", ".hidden", "", "x..y", "C:x", 5])
def test_unsafe_file_names(name: object) -> None:
    with pytest.raises(BundleError, match="unsafe file name"):
        check_file_name(name, "here")


def test_manifest_parsing() -> None:
    digest = "ab" * 32
    assert read_manifest(f"# comment\n{digest}  encoder.onnx\n{digest} *b.png\n\n", "m") == {
        "encoder.onnx": digest,
        "b.png": digest,
    }
    with pytest.raises(BundleError, match="m:1"):
        read_manifest("not a line\n", "m")
    with pytest.raises(BundleError, match="unsafe"):
        read_manifest(f"{digest}  ../../x\n", "m")


def _config(**changes: object) -> dict:
    graphs = {g: {"file": f"{g}.onnx", "input": "x", "output": "y"} for g in ("encoder", "decoder", "approximator")}
    base = {
        "format": "aaae-bundle",
        "format_version": 1,
        "resolution": 32,
        "channels": 1,
        "z_dim": 64,
        "c_dim": 128,
        "preprocessing": {"resolution": 32, "channels": 1, "crop": 1.0},
        "graphs": graphs,
    }
    base.update(changes)
    return base


def test_config_checks() -> None:
    config = BundleConfig.from_dict(_config(), "c")
    assert (config.resolution, config.crop, config.attributes_file) == (32, 1.0, None)
    for changes, message in [
        ({"format": "other"}, "not an aaae bundle"),
        ({"format_version": 2}, "newer than this aaae"),
        ({"channels": 2}, "implausible"),
        ({"graphs": {}}, "no encoder, decoder, approximator"),
        ({"preprocessing": {"resolution": 64, "channels": 1, "crop": 1.0}}, "does not match"),
        ({"attributes": {"file": "../a.json"}}, "unsafe"),
    ]:
        with pytest.raises(BundleError, match=message):
            BundleConfig.from_dict(_config(**changes), "c")
    with pytest.raises(BundleError, match="incomplete"):
        BundleConfig.from_dict({k: v for k, v in _config().items() if k != "z_dim"}, "c")


def test_compute_attributes_is_the_mean_difference() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 8))
    codes[:50] += 3.0  # the first 50 have the attribute: shifted by 3 in every dimension
    labels = np.full((200, 2), -1, dtype=np.int8)
    labels[:50, 0] = 1
    labels[:5, 1] = 1  # too few positives
    labels[150:, 0] = 0  # unknown: left out
    found, skipped = compute_attributes(codes, labels, ["Big", "Rare"], source={"data": "x"})
    assert [a.name for a in found] == ["Big"] and skipped == ["Rare (5 with, 195 without)"]
    big = found[0]
    expected = codes[:50].mean(0) - codes[50:150].mean(0)
    assert np.allclose(big.direction, expected, atol=1e-6) and (big.positive, big.negative) == (50, 100)
    unit = expected / np.linalg.norm(expected)
    assert big.projection["positive"]["mean"] == pytest.approx(float((codes[:50] @ unit).mean()))
    assert big.projection["negative"]["std"] == pytest.approx(float((codes[50:150] @ unit).std()))
    assert big.separation > 3
    again = AttributeSet.from_json(AttributeSet(found).to_json(8), 8, "a.json")["big"]
    assert np.array_equal(again.direction, big.direction) and again.projection == big.projection
    with pytest.raises(UserError, match="unreadable attribute file"):
        AttributeSet.from_json(AttributeSet(found).to_json(8), 9, "a.json")  # wrong code size


def test_attribute_names_and_shifts() -> None:
    d = np.ones(4, dtype=np.float32)
    attrs = AttributeSet([Attribute("Male", d, 10, 10, scale=2.0), Attribute("Smiling", -d, 10, 10)])
    assert attrs.resolve("male") == "Male" and attrs.resolve("SMILING") == "Smiling"
    with pytest.raises(UserError, match=r"did you mean 'Smiling'\? \(valid: Male, Smiling\)"):
        attrs.resolve("smilling")
    with pytest.raises(UserError, match=r"unknown attribute 'xyz' \(valid: Male, Smiling\)"):
        attrs.resolve("xyz")
    assert np.allclose(attrs.shift({"male": 1.5, "smiling": 1.0}), 3.0 * d - d)
    merged = attrs.merged([Attribute("male", 3 * d, 1, 1)])
    assert list(merged) == ["Smiling", "male"] and list(attrs.merged([], replace=True)) == []


def test_option_parsing() -> None:
    assert parse_sweep("-2:2:5") == [-2.0, -1.0, 0.0, 1.0, 2.0]
    for bad in ("1:2", "a:b:c", "0:1:1", "0:1:1000"):
        with pytest.raises(UserError):
            parse_sweep(bad)
    assert parse_edits(["male", "smiling=-1.5"], 2.0) == {"male": 2.0, "smiling": -1.5}
    with pytest.raises(UserError, match="not a number"):
        parse_edits(["male=big"], 1.0)
    assert check_device("cpu") == "cpu"
    with pytest.raises(UserError):
        check_device("gpu")


def test_output_paths(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "a.PNG") == tmp_path / "a.PNG"
    with pytest.raises(UserError, match="must end in"):
        check_output_path(tmp_path / "a.gif")
    assert check_output_path(tmp_path / "a.gif", (".gif",)).suffix == ".gif"
    image = np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1)
    assert zoom(image, 3).shape == (1, 6, 6, 1) and zoom(image, 3)[0, 5, 5, 0] == 3


def test_folder_writer_leaves_nothing_on_failure(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 1), dtype=np.uint8)
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), ImageFolderWriter(target) as folder:
        folder.add(image, "a.png")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with ImageFolderWriter(target) as folder:
        folder.add(image, "a.png")
        folder.add(image, "a.png")  # a clash gets a suffix
    assert sorted(p.name for p in target.iterdir()) == ["a-1.png", "a.png"]
    assert oct(os.stat(target / "a.png").st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_model_name_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _HUB_ID.match("user/name@v1.0").group("repo", "revision") == ("user/name", "v1.0")
    assert _HUB_ID.match("user/name").group("revision") is None
    assert not _HUB_ID.match("just-a-name") and not _HUB_ID.match("a/b/c")
    monkeypatch.setenv("AAAE_MODEL_PATH", str(tmp_path))
    with pytest.raises(UserError, match="no such model folder"):
        open_model(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="not an aaae bundle"):
        open_model(tmp_path)
