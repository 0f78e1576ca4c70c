"""Data sources have one owner (aaae_cli.data.sources): training, export, eval, attributes and calibrate read a data
path alike, key its images alike and hold out the same images."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.sources import detect_source, held_out, in_validation, labelled_images, mnist_key
from aaae_cli.errors import UserError
from aaae_cli.evaluation.evaluate import load_eval_data, training_photos
from aaae_train.data import Dataset, Preprocessing, load_dataset
from tests.conftest import MNIST, BarRecorder

# Computed with the code before issue 14 changed anything: the shipped models' held-out splits must not move.
HELD_MNIST = ["mnist:11", "mnist:33", "mnist:35", "mnist:98", "mnist:103", "mnist:115", "mnist:126", "mnist:137"]
KEPT_MNIST = ["mnist:0", "mnist:1", "mnist:10", "mnist:12", "mnist:34", "mnist:99", "mnist:199"]
HELD_CELEBA = ["images/000001.jpg", "images/000029.jpg", "images/000030.jpg", "images/000248.jpg", "images/000356.jpg"]
KEPT_CELEBA = ["images/000002.jpg", "images/000003.jpg", "images/000028.jpg", "images/000058.jpg", "images/000086.jpg"]


def test_known_keys_stay_on_their_side_of_the_split() -> None:
    for key in HELD_MNIST + HELD_CELEBA:
        assert in_validation(key, 0.05), key
    for key in KEPT_MNIST + KEPT_CELEBA:
        assert not in_validation(key, 0.05), key
    keys = KEPT_MNIST + HELD_MNIST + KEPT_CELEBA + HELD_CELEBA
    dataset = Dataset(np.zeros((len(keys), 1, 1, 1), np.uint8), keys)
    train, held = dataset.split(0.05)
    assert [keys[i] for i in held] == HELD_MNIST + HELD_CELEBA
    assert [keys[i] for i in train] == KEPT_MNIST + KEPT_CELEBA
    assert held_out(keys, 0.05).tolist() == [key in HELD_MNIST + HELD_CELEBA for key in keys]
    assert mnist_key(11) == "mnist:11"


def test_the_faces_layout_keys_images_as_the_shipped_model_was_trained(tmp_path: Path) -> None:
    """The faces model read ``celeba`` (images/ + list_attr_celeba.txt) and ``celeba/extra_fullres/images``: two
    data paths, so every key is ``images/NAME`` in training, in the archive it went through and in eval."""
    from aaae_cli.data.sources import key_sources
    from aaae_cli.evaluation.evaluate import read_as_trained

    root = tmp_path / "celeba"
    for folder, name in ((root / "images", "000001.jpg"), (root / "extra_fullres" / "images", "000002.jpg")):
        folder.mkdir(parents=True)
        Image.new("RGB", (40, 48), (90, 90, 90)).save(folder / name)
    (root / "list_attr_celeba.txt").write_text("1\nMale Smiling\n000001.jpg 1 -1\n")
    paths = [root, root / "extra_fullres" / "images"]
    trained = load_dataset([detect_source(p) for p in paths], Preprocessing(32, 3, 1.0), tmp_path / "cache", 1)
    assert trained.keys == ["images/000001.jpg", "images/000002.jpg"] and key_sources(paths) == 2
    model = SimpleNamespace(config={"training": {"data": {"sources": 2}}})
    assert read_as_trained(root, None, model).keys == ["images/000001.jpg"]


def test_a_small_set_holds_out_the_key_that_hashes_lowest() -> None:
    """Under about 20 images at 5% no key may fall in the hash split: the one hashing lowest is held out."""
    for keys, held in ((["a.png", "b.png", "c.png"], [2]), (["mnist:0", "mnist:1", "mnist:2", "mnist:3"], [0])):
        dataset = Dataset(np.zeros((len(keys), 1, 1, 1), np.uint8), keys)
        assert dataset.split(0.05)[1].tolist() == held
        assert dataset.split(0.0)[1].tolist() == []
        assert np.flatnonzero(held_out(keys, 0.05)).tolist() == held


def _stub_model(resolution: int, channels: int, crop: float, sources: int = 1) -> SimpleNamespace:
    """What eval and calibrate read of a model to pick and frame held-out images (no ONNX needed)."""
    config = {
        "preprocessing": {"resolution": resolution, "channels": channels, "crop": crop},
        "training": {"data": {"val_fraction": 0.05, "sources": sources}},
    }

    def prepare(image: object) -> np.ndarray:
        from aaae_cli.images import load_image, prepare_pil

        if isinstance(image, Image.Image):
            return prepare_pil(image, resolution, channels, crop)
        return load_image(Path(str(image)), resolution, channels, crop)

    return SimpleNamespace(
        config=config, resolution=resolution, channels=channels, crop=crop, aligns_faces=False, prepare=prepare
    )


def test_celeba_with_both_image_folders_is_read_alike(tmp_path: Path, cache_dir: Path) -> None:
    """A CelebA folder holding both ``images/`` and ``img_align_celeba/`` was trained on one and evaluated (and
    given attribute directions) on the other."""
    root = tmp_path / "celeba"
    rows = []
    for sub, colour, names in (("images", (255, 0, 0), range(1, 4)), ("img_align_celeba", (0, 0, 255), range(4, 7))):
        (root / sub).mkdir(parents=True)
        for i in names:
            Image.new("RGB", (40, 40), colour).save(root / sub / f"{i:06d}.png")
            rows.append(f"{i:06d}.png " + ("1 -1" if i % 2 else "-1 1"))
    (root / "list_attr_celeba.txt").write_text("6\nMale Smiling\n" + "\n".join(rows) + "\n")
    trained = load_dataset([detect_source(root)], Preprocessing(32, 3, 1.0), cache_dir, workers=1)
    assert sorted(trained.keys) == ["000004.png", "000005.png", "000006.png"]
    labelled = labelled_images(root)
    assert sorted(p.name for p in labelled.paths) == sorted(trained.keys)
    evaluated = load_eval_data(root, None, _stub_model(32, 3, 1.0), "all", 100, 0, 0)
    assert len(evaluated.held_out) == 3
    assert {image.tobytes() for image in evaluated.held_out} == {image.tobytes() for image in trained.images}
    train_idx, _ = trained.split(0.05)  # calibrating photo edits takes training's training split
    photos = training_photos(root, None, _stub_model(32, 3, 1.0), 100, 0)
    assert sorted(p.name for p in photos) == sorted(trained.keys[i] for i in train_idx)


def test_eval_refuses_a_prepared_archive_with_a_clear_message(tmp_path: Path) -> None:
    from aaae_train.archive import write_archive

    prep = {"resolution": 32, "channels": 1, "crop": 1.0, "align": "none"}
    write_archive(tmp_path / "d.zip", np.zeros((2, 32, 32, 1), np.uint8), ["a.png", "b.png"], prep)
    with pytest.raises(UserError, match="prepared archive"):
        load_eval_data(tmp_path / "d.zip", None, _stub_model(32, 1, 1.0), "val", 10, 10, 0)


def test_mnist_images_are_keyed_alike_by_training_eval_attributes_and_calibrate(cache_dir: Path) -> None:
    trained = load_dataset([detect_source(MNIST)], Preprocessing(32, 1, 1.0), cache_dir)
    train_idx, val_idx = trained.split(0.05)
    model = _stub_model(32, 1, 1.0)
    # eval's held-out images and calibrate's training images (both load_eval_data) are training's, by key
    evaluated = load_eval_data(MNIST, None, model, "val", 10_000, 10_000, 0)
    assert [image.tobytes() for image in evaluated.held_out] == [trained.images[i].tobytes() for i in val_idx]
    assert [image.tobytes() for image in evaluated.training] == [trained.images[i].tobytes() for i in train_idx]
    labelled = labelled_images(MNIST)
    assert labelled.keys == trained.keys
    assert np.array_equal(labelled.labels, trained.labels)


def test_eval_reads_an_mnist_folder_without_labels_as_training_does(tmp_path: Path, cache_dir: Path) -> None:
    """Training reads an idx image file with no label file beside it; eval refused the same folder."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    shutil.copy(MNIST / "train-images-idx3-ubyte.gz", folder)
    trained = load_dataset([detect_source(folder)], Preprocessing(32, 1, 1.0), cache_dir)
    _, val_idx = trained.split(0.05)
    evaluated = load_eval_data(folder, None, _stub_model(32, 1, 1.0), "val", 10_000, 0, 0)
    assert [image.tobytes() for image in evaluated.held_out] == [trained.images[i].tobytes() for i in val_idx]
    assert evaluated.labels is None
    raw = tmp_path / "train-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress((MNIST / "train-images-idx3-ubyte.gz").read_bytes()))
    assert len(load_eval_data(raw, None, _stub_model(32, 1, 1.0), "val", 10_000, 0, 0).held_out) == len(val_idx)


def test_reading_eval_images_shows_one_bar_counting_every_image_it_frames() -> None:
    """``aaae eval`` read and framed up to 30,000 images (minutes; faces are found one by one) before its first bar."""
    recorder = BarRecorder()
    evaluated = load_eval_data(MNIST, None, _stub_model(32, 1, 1.0), "val", 5, 7, 0, progress=recorder)
    assert (len(evaluated.held_out), len(evaluated.training)) == (5, 7)
    assert recorder.bars == [["reading images", 12, 12]]
