"""Training data sources: MNIST idx, CelebA folders with attributes, plain folders, the cache, the split."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.sources import detect_source, in_validation, mnist_key, read_idx
from aaae_cli.errors import UserError
from aaae_train.data import Preprocessing, load_dataset
from tests.conftest import ASTRONAUT, MNIST


def test_mnist_idx_and_labels(cache_dir: Path) -> None:
    source = detect_source(MNIST)
    assert source.kind == "mnist" and source.labels is not None
    assert read_idx(source.path).shape == (500, 28, 28)
    data = load_dataset([source], Preprocessing(32, 1, 1.0), cache_dir)
    assert data.images.shape == (500, 32, 32, 1)
    assert data.attributes[0] == "digit_0" and data.labels is not None
    assert (data.labels == 1).sum(1).tolist() == [1] * 500  # one class each
    again = load_dataset([source], Preprocessing(32, 1, 1.0), cache_dir)  # from the cache
    assert np.array_equal(np.asarray(again.images), data.images)


def test_mnist_raw_idx_file(tmp_path: Path, cache_dir: Path) -> None:
    raw = tmp_path / "train-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress((MNIST / "train-images-idx3-ubyte.gz").read_bytes()))
    source = detect_source(raw)
    assert source.kind == "mnist" and source.labels is None
    assert load_dataset([source], Preprocessing(32, 1, 1.0), cache_dir).images.shape == (500, 32, 32, 1)


def test_celeba_folder_with_attributes(tmp_path: Path, cache_dir: Path) -> None:
    images = tmp_path / "celeba" / "images"
    images.mkdir(parents=True)
    photo = Image.open(ASTRONAUT).resize((89, 109))
    rows = []
    for i in range(1, 7):
        photo.save(images / f"{i:06d}.jpg")
        rows.append(f"{i:06d}.jpg " + " ".join(["1" if i % 2 else "-1", "-1", "1"]))
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text("6\nMale Bald Smiling\n" + "\n".join(rows) + "\n")
    source = detect_source(tmp_path / "celeba")
    assert source.kind == "celeba" and source.path == images
    data = load_dataset([source], Preprocessing(32, 3, 140 / 178), cache_dir, workers=1)
    assert data.attributes == ["Male", "Bald", "Smiling"]
    assert data.labels is not None and data.labels[:, 0].tolist() == [1, -1, 1, -1, 1, -1]


def test_folder_skips_unreadable_files(tmp_path: Path, cache_dir: Path) -> None:
    folder = tmp_path / "imgs" / "nested"
    folder.mkdir(parents=True)
    Image.open(ASTRONAUT).save(folder / "a.png")
    Image.open(ASTRONAUT).convert("L").save(folder.parent / "b.bmp")
    (folder / "broken.jpg").write_text("not a jpeg")
    (folder / "readme.txt").write_text("ignored: not an image suffix")
    data = load_dataset([detect_source(tmp_path / "imgs")], Preprocessing(32, 3, 1.0), cache_dir, workers=1)
    assert len(data) == 2 and len(data.skipped) == 1 and "broken.jpg" in data.skipped[0]


def test_cache_follows_files_added_deleted_or_changed(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 7: the cache was keyed by path and preprocessing only, so after images were added or
    deleted a new run trained on the old set and reported skipped files that no longer existed."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    digits = read_idx(MNIST / "train-images-idx3-ubyte.gz")
    for i in range(3):
        Image.fromarray(digits[i]).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_text("not a jpeg")
    prep = Preprocessing(32, 1, 1.0)
    first = load_dataset([detect_source(folder)], prep, cache_dir, workers=1)
    assert (len(first), len(first.skipped)) == (3, 1)
    (folder / "broken.jpg").unlink()
    Image.fromarray(digits[3]).save(folder / "3.png")
    second = load_dataset([detect_source(folder)], prep, cache_dir, workers=1)
    assert (sorted(second.keys), second.skipped) == (["0.png", "1.png", "2.png", "3.png"], [])
    Image.fromarray(digits[9]).save(folder / "0.png")  # the same name, another picture
    third = load_dataset([detect_source(folder)], prep, cache_dir, workers=1)
    assert not np.array_equal(third.images[third.keys.index("0.png")], second.images[second.keys.index("0.png")])
    again = load_dataset([detect_source(folder)], prep, cache_dir, workers=1)  # nothing changed: the cache
    assert isinstance(again.images, np.memmap)


def test_sources_that_are_refused(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        detect_source(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no image files"):
        load_dataset([detect_source(empty)], Preprocessing(32, 3, 1.0), cache_dir)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jpg").write_text("text")
    with pytest.raises(UserError, match="no readable image"):
        load_dataset([detect_source(bad)], Preprocessing(32, 3, 1.0), cache_dir)
    cut = tmp_path / "cut.gz"
    cut.write_bytes((MNIST / "train-images-idx3-ubyte.gz").read_bytes()[:500])
    with pytest.raises(UserError):
        read_idx(cut)


def test_validation_split_is_stable() -> None:
    keys = [mnist_key(i) for i in range(20_000)]
    held = [k for k in keys if in_validation(k, 0.05)]
    assert 0.04 < len(held) / len(keys) < 0.06
    assert held == [k for k in keys if in_validation(k, 0.05)]
    assert set(held) <= {k for k in keys if in_validation(k, 0.10)}  # a larger split contains the smaller


def test_a_damaged_cache_entry_is_decoded_again(tmp_path: Path, cache_dir: Path) -> None:
    """Issue #13 item 11: a damaged cache sidecar was a traceback on every later run."""
    source = detect_source(MNIST)
    first = load_dataset([source], Preprocessing(32, 1, 1.0), cache_dir)
    for meta in cache_dir.glob("*.json"):
        meta.write_text('{"keys": ')
    again = load_dataset([source], Preprocessing(32, 1, 1.0), cache_dir)
    assert np.array_equal(np.asarray(again.images), np.asarray(first.images)) and again.keys == first.keys
