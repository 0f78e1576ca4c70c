"""Prepared dataset archives, face-aligned training data and wall-clock phase budgets (the faithful-faces issue).

The archive carries a dataset to a GPU machine; ``--align face`` makes training see faces framed exactly as the
runtime frames photos; ``--max-minutes`` fits a run into a lease.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.data.archive import read_archive
from aaae_cli.errors import UserError
from aaae_cli.photos.align import FACE_TEMPLATE
from aaae_cli.photos.edit import aligned_face
from aaae_train.archive import main as archive_main
from aaae_train.archive import write_archive
from tests.conftest import ASTRONAUT, DATA, TINY, assert_user_error, run_cli

HOPPER = DATA / "grace_hopper.jpg"


def _faces_folder(root: Path) -> Path:
    """The two portraits, each also rotated and mirrored (6 faces), and one picture with no face."""
    folder = root / "faces"
    folder.mkdir()
    for photo in (ASTRONAUT, HOPPER):
        img = Image.open(photo).convert("RGB")
        img.save(folder / f"{photo.stem}.png")
        img.rotate(12, resample=Image.Resampling.BICUBIC, expand=True).save(folder / f"{photo.stem}-rot.png")
        img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"{photo.stem}-flip.png")
    Image.new("RGB", (120, 90), (40, 160, 90)).save(folder / "lawn.png")
    return folder


def test_archive_round_trip_keeps_images_keys_and_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    labels = rng.choice(np.array([-1, 1], dtype=np.int8), (5, 2))
    keys = [f"images/{i}.jpg" for i in range(5)]
    prep = {"resolution": 32, "channels": 3, "crop": 1.0, "align": "none"}
    write_archive(tmp_path / "d.zip", images, keys, prep, ["Smiling", "Male"], labels)
    manifest, back, back_labels = read_archive(tmp_path / "d.zip")
    assert manifest["keys"] == keys and manifest["attributes"] == ["Smiling", "Male"]
    assert np.array_equal(back, images) and np.array_equal(back_labels, labels)


def _damaged(path: Path, member: str, data: bytes) -> Path:
    out = path.with_name(f"bad-{member.replace('/', '_')}-{zlib.crc32(data):08x}.zip")  # one file per damage
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, data if item.filename == member else source.read(item))
    return out


def test_damaged_archives_are_one_line_errors(tmp_path: Path) -> None:
    images = np.zeros((3, 32, 32, 1), dtype=np.uint8)
    good = tmp_path / "d.zip"
    prep = {"resolution": 32, "channels": 1, "crop": 1.0, "align": "none"}
    write_archive(good, images, ["a", "b", "c"], prep, ["x"], np.ones((3, 1), dtype=np.int8))
    big = io.BytesIO()
    Image.new("L", (33, 32)).save(big, "PNG")
    labels = io.BytesIO()
    np.save(labels, np.full((3, 1), 7, dtype=np.int8))
    lowest = io.BytesIO()  # abs() of int8 -128 is -128: a check on abs() let it through
    np.save(lowest, np.full((3, 1), -128, dtype=np.int8))
    manifest = json.loads(zipfile.ZipFile(good).read("dataset.json"))
    cases = {
        _damaged(good, "images/0000001.png", big.getvalue()): "not 32x32",
        _damaged(good, "images/0000002.png", b"not an image"): "unreadable",
        _damaged(good, "labels.npy", labels.getvalue()): "labels.npy",
        _damaged(good, "labels.npy", lowest.getvalue()): "labels.npy",
        _damaged(good, "dataset.json", b"{"): "not valid JSON",
        _damaged(good, "dataset.json", json.dumps({**manifest, "keys": ["a", 3, "c"]}).encode()): "damaged",
        _damaged(good, "dataset.json", json.dumps({**manifest, "format": "x"}).encode()): "not an aaae dataset",
    }
    (tmp_path / "text.zip").write_text("hello")
    cases[tmp_path / "text.zip"] = "not a readable dataset archive"
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            read_archive(path)


def test_an_archive_may_repeat_a_key(tmp_path: Path) -> None:
    """CelebA's two pools hold 250 photos twice (the same ids at two resolutions): one key, so both copies fall on
    one side of the split and carry one label row. An archive that repeats a key is read, not refused."""
    path = tmp_path / "d.zip"
    prep = {"resolution": 32, "channels": 1, "crop": 1.0, "align": "none"}
    labels = np.array([[1], [-1], [1]], dtype=np.int8)
    write_archive(path, np.zeros((3, 32, 32, 1), dtype=np.uint8), ["a", "b", "a"], prep, ["x"], labels)
    manifest, images, read_labels = read_archive(path)
    assert manifest["keys"] == ["a", "b", "a"] and len(images) == 3 and np.array_equal(read_labels, labels)


def test_face_archive_aligns_like_the_runtime_and_skips_faceless_images(tmp_path: Path) -> None:
    folder = _faces_folder(tmp_path)
    out = tmp_path / "faces.zip"
    assert archive_main([str(folder), "-o", str(out), "--align", "face", "--cache-dir", str(tmp_path / "c")]) == 0
    manifest, images, _ = read_archive(out)
    assert manifest["preprocessing"]["align"] == "face" and manifest["preprocessing"]["crop"] == 1.0
    assert sorted(manifest["keys"]) == sorted(p.name for p in folder.iterdir() if p.stem != "lawn")
    for key, image in zip(manifest["keys"], images, strict=True):  # exactly what 'aaae edit' would see
        assert np.array_equal(image, aligned_face(str(folder / key), 64, FACE_TEMPLATE)), key
    # the rotated copy aligns back upright: close to the upright face
    by_key = dict(zip(manifest["keys"], images.astype(float), strict=True))
    assert np.abs(by_key["astronaut.png"] - by_key["astronaut-rot.png"]).mean() < 12


@pytest.mark.slow
def test_training_on_a_face_archive_records_the_template_and_keeps_to_its_time(tmp_path: Path) -> None:
    archive = tmp_path / "faces.zip"
    assert archive_main([str(_faces_folder(tmp_path)), "-o", str(archive), "--align", "face"]) == 0
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    common = [
        *TINY,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--approx-steps",
        "100000",
        "--snapshot-every",
        "10",
        "--patience",
        "0",
    ]
    wrong = run_cli("train", str(archive), "--out", str(run), "--resolution", "32", *common)
    assert_user_error(wrong, "--resolution 32", "archive was prepared with resolution 64")
    result = run_cli(
        "train", str(archive), "--out", str(run), "--epochs", "100000", "--max-minutes", "0.05",
        "--approx-max-minutes", "0.05", *common,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "--max-minutes 0.05: autoencoder phase ends" in said
    assert "--approx-max-minutes 0.05: approximator phase ends" in said
    options = json.loads((run / "options.json").read_text())
    assert options["align"] == "face" and options["crop"] == 1.0
    exported = run_cli("export", str(run), str(bundle))
    assert exported.returncode == 0, exported.stderr
    landmarks = json.loads((bundle / "config.json").read_text())["preprocessing"]["landmarks"]
    assert np.allclose(landmarks["points"], FACE_TEMPLATE) and "aligned" in landmarks["training"]
    from aaae_cli import load

    model = load(bundle)  # photos are aligned to the same template as the training faces
    assert model.aligns_faces
    assert np.array_equal(model.prepare(str(ASTRONAUT)), aligned_face(str(ASTRONAUT), 64, FACE_TEMPLATE))
    # aaae eval compares generated faces with real ones framed exactly as the model frames photos (aligned)
    from aaae_cli.evaluation.evaluate import load_eval_data

    folder = tmp_path / "faces"
    data = load_eval_data(folder, None, model, "all", 100, 0, 0)
    assert len(data.held_out) == 6  # the faceless picture is left out
    aligned = {aligned_face(str(p), 64, FACE_TEMPLATE).tobytes() for p in folder.iterdir() if p.stem != "lawn"}
    assert {image.tobytes() for image in data.held_out} == aligned


def test_slim_checkpoint_exports_like_the_full_one(tiny_run: Path, tmp_path: Path) -> None:
    import torch

    from aaae_train.checkpoint import load_checkpoint, load_networks, save_checkpoint, slim_checkpoint

    full = load_checkpoint(tiny_run / "best.pt")
    slim = slim_checkpoint(full)
    save_checkpoint({k: v for k, v in slim.items() if k not in ("format", "version")}, tmp_path / "slim.pt")
    assert (tmp_path / "slim.pt").stat().st_size < 0.6 * (tiny_run / "best.pt").stat().st_size
    encoder, decoder, _ = load_networks(load_checkpoint(tmp_path / "slim.pt"))
    reference, _, _ = load_networks(full)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(encoder(x), reference(x), atol=2e-2)
        assert decoder(encoder(x)).shape == x.shape


def test_export_counts_the_data_paths_an_archive_was_made_of(tmp_path: Path) -> None:
    """Keys are "folder/name" when training read several paths; an archive of two paths must say so, or aaae eval
    would hold out other images than training did."""
    from aaae_cli.data.sources import key_sources
    from aaae_train.export import run_key_sources

    images = np.zeros((2, 32, 32, 1), dtype=np.uint8)
    prep = {"resolution": 32, "channels": 1, "crop": 1.0, "align": "none"}
    write_archive(tmp_path / "two.zip", images, ["images/a.png", "images/b.png"], prep, sources=2)
    write_archive(tmp_path / "one.zip", images, ["a.png", "b.png"], prep)
    assert key_sources([tmp_path / "two.zip"]) == 2
    assert key_sources([tmp_path / "one.zip"]) == 1
    assert key_sources(["/a/images", "/b/images"]) == 2
    assert key_sources([tmp_path / "two.zip", "/a/images"]) == 3
    (tmp_path / "two.zip").rename(tmp_path / "TWO.ZIP")  # trained as an archive (any case): counted as one
    assert key_sources([tmp_path / "TWO.ZIP"]) == 2
    (tmp_path / "TWO.ZIP").rename(tmp_path / "two.zip")
    assert run_key_sources({"data": {"sources": [{"path": str(tmp_path / "two.zip")}]}}) == 2
    assert run_key_sources({"data": {"sources": [{"path": "/a/images"}, {"path": "/b/images"}]}}) == 2
    assert run_key_sources({"data": {"sources": [{"path": "/a/images"}]}}, [str(tmp_path / "two.zip")]) == 2
