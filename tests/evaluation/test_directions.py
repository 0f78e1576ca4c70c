"""``aaae attributes compute``: directions from class folders, CelebA-style label files and MNIST idx files,
computed with the bundle's ONNX encoder and written into the bundle (or a copy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aaae_cli
from aaae_cli.bundle.folder import Bundle
from aaae_cli.data.sources import read_idx
from tests.conftest import MNIST, assert_user_error, run_cli

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return read_idx(MNIST / "train-images-idx3-ubyte.gz"), read_idx(MNIST / "train-labels-idx1-ubyte.gz")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_class_folders_into_a_copy(tiny_bundle: Path, digits: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    images, labels = digits
    data = tmp_path / "by-class"
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = data / NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    (data / "nine" / "broken.png").write_text("unreadable files are skipped")
    out = tmp_path / "digits-plus"
    before = {p.name: p.read_bytes() for p in tiny_bundle.iterdir()}
    result = run_cli("attributes", "compute", "--model", str(tiny_bundle), "--data", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "10 direction(s) from 500 images" in " ".join(result.stderr.split())
    assert {p.name: p.read_bytes() for p in tiny_bundle.iterdir()} == before  # the source bundle is untouched
    Bundle(out).verify_all()  # a complete, checksummed bundle
    model = aaae_cli.load(out)
    assert list(model.attributes) == [f"digit_{d}" for d in range(10)] + sorted(NAMES)  # merged with the old ones
    three = model.attributes["THREE"]
    assert three.positive == int((labels == 3).sum()) and three.negative == 500 - three.positive
    assert three.source["labels"] == "classes" and three.source["split"] == "all"
    # The same labels on (almost) the same images give the same direction as export's training-split one.
    assert _cosine(three.direction, model.attributes["digit_3"].direction) > 0.95
    config = json.loads((out / "config.json").read_text())
    assert config["attributes"]["count"] == 20 and "three" in (out / "README.md").read_text()


def test_celeba_labels_and_mnist_in_place(
    bundle_copy: Path, digits: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    images, labels = digits
    folder = tmp_path / "faces-like" / "images"
    folder.mkdir(parents=True)
    rows = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        name = f"{i + 1:06d}.png"
        Image.fromarray(image).save(folder / name)
        round_ = label in (0, 6, 8, 9)
        rows.append(f"{name} {1 if label == 7 else -1} {1 if round_ else -1}")
    attr_file = tmp_path / "list_attr_celeba.txt"
    attr_file.write_text(f"{len(rows)}\nIs_Seven Round\n" + "\n".join(rows) + "\n")
    result = run_cli(
        "attributes", "compute", "--model", str(bundle_copy), "--data", str(folder.parent), "--labels", str(attr_file)
    )
    assert result.returncode == 0, result.stderr
    model = aaae_cli.load(bundle_copy)
    assert "Is_Seven" in model.attributes and "round" in model.attributes
    assert model.attributes["is_seven"].positive == int((labels == 7).sum())
    assert _cosine(model.attributes["Is_Seven"].direction, model.attributes["digit_7"].direction) > 0.95
    # An MNIST idx file with its labels, replacing everything else.
    result = run_cli("attributes", "compute", "--model", str(bundle_copy), "--data", str(MNIST), "--replace")
    assert result.returncode == 0, result.stderr
    model = aaae_cli.load(bundle_copy)
    assert list(model.attributes) == [f"digit_{d}" for d in range(10)]
    assert model.attributes["digit_0"].positive == int((labels == 0).sum())  # all 500 images this time
    Bundle(bundle_copy).verify_all()
    # The edited bundle still works end to end.
    out = tmp_path / "e.png"
    edit = run_cli("edit", str(folder / "000001.png"), "--attr", "digit_0", "-o", str(out), "--model", str(bundle_copy))
    assert edit.returncode == 0 and out.is_file(), edit.stderr


def test_compute_refusals(tiny_bundle: Path, bundle_copy: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("L", (28, 28)).save(flat / "a.png")
    m = ["--model", str(bundle_copy)]
    assert_user_error(run_cli("attributes", "compute", *m, "--data", str(flat)), "need labels")
    assert_user_error(run_cli("attributes", "compute", *m, "--data", str(tmp_path / "nope")), "no such file")
    assert_user_error(
        run_cli("attributes", "compute", *m, "--data", str(MNIST), "--min-count", "1000"), "no attribute has 1000"
    )
    builtin = {"AAAE_MODEL_PATH": str(tiny_bundle.parent)}
    result = run_cli("attributes", "compute", "--model", "digits", "--data", str(MNIST), env=builtin)
    assert_user_error(result, "built-in or downloaded model", "--out")
    Bundle(bundle_copy).verify_all()  # nothing was half-written


# A real `aaae` process that dies (os._exit, like kill -9) the moment the bundle's manifest is to be written.
_DIES_BEFORE_THE_MANIFEST = """
import os, sys
import aaae_cli.bundle.writer as writer
writer.write_manifest = lambda *args, **kwargs: os._exit(9)
from aaae_cli.cli import main
sys.argv = ["aaae", *sys.argv[1:]]
main()
"""


def test_a_kill_during_in_place_compute_leaves_a_working_bundle(tmp_path: Path) -> None:
    """Issue #13 item 6: killed between the new attributes.json and the manifest, the bundle was rejected by
    every later command. The new bundle is now built beside the old one and swapped in."""
    import shutil
    import subprocess
    import sys

    bundle = Path(shutil.copytree(Path(aaae_cli.__file__).parent.parent / "models" / "digits", tmp_path / "digits"))
    (bundle / "notes.txt").write_text("mine")  # a file the user keeps in the folder survives the swap
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    args = ["attributes", "compute", "--model", str(bundle), "--data", str(MNIST), "--replace", "--workers", "1"]
    died = subprocess.run([sys.executable, "-c", _DIES_BEFORE_THE_MANIFEST, *args], capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    Bundle(bundle).verify_all()
    assert (bundle / "notes.txt").read_text() == "mine"
    assert json.loads((bundle / "attributes.json").read_text())["attributes"][0]["source"]["images"] == 500
