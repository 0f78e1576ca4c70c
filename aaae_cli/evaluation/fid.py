"""FID and KID from feature vectors, with the real images' statistics cached (numpy only: the features come in).

The features themselves come from NVIDIA's FID Inception network (:mod:`.inception`, on onnxruntime), which
the command line hands in as a function ``images -> features``; nothing here imports torch.

- FID: the Frechet distance between Gaussians fitted to the two sets of features (:mod:`.metrics`). Biased by the
  sample count (it falls as N grows), so it compares only figures made with equal N: the paper's 10,000.
- KID (Binkowski et al. 2018): the unbiased squared MMD with the cubic polynomial kernel, averaged over random
  subsets; comparable across sample counts, so it is the one to read for a few hundred images.
- The real set's statistics (mean, covariance, and a subset of features for KID) are cached under a key made
  of the network's checksum, the framing and the list of images, so a second ``aaae eval --fid`` on the same data
  does not run Inception over it again; generated images' statistics are cached too (by their codes and the
  decoder: :mod:`.evaluate`), so an evaluation stopped part-way goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aaae_cli.evaluation.metrics import frechet_distance
from aaae_cli.utils.atomic import atomic_write_bytes
from aaae_cli.utils.progress import Progress

Features = Callable[[np.ndarray], np.ndarray]  # uint8 images (N, H, W, C) -> float64 features (N, D)
KID_KEEP = 2000  # feature rows kept for KID (the usual subsets are 1,000)


@dataclass
class FeatureStats:
    """Mean and covariance of feature rows, accumulated a batch at a time in float64 (bounded memory: two
    D x D sums, whatever the number of images), plus up to :data:`KID_KEEP` rows for KID."""

    count: int
    total: np.ndarray
    outer: np.ndarray
    kept: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> FeatureStats:
        return cls(0, np.zeros(dim), np.zeros((dim, dim)), np.zeros((0, dim)))

    def add(self, features: np.ndarray) -> None:
        features = np.asarray(features, dtype=np.float64)
        self.count += len(features)
        self.total += features.sum(0)
        self.outer += features.T @ features
        room = KID_KEEP - len(self.kept)
        if room > 0:
            self.kept = np.concatenate([self.kept, features[:room]])

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count

    @property
    def covariance(self) -> np.ndarray:
        mean = self.mean
        return (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, count=self.count, total=self.total, outer=self.outer, kept=self.kept)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureStats:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            return cls(int(saved["count"]), saved["total"], saved["outer"], saved["kept"])


def feature_stats(
    batches: Iterable[np.ndarray], features: Features, progress: Callable[[int], None] | None = None
) -> FeatureStats:
    """Statistics of the features of every image the batches hold."""
    stats: FeatureStats | None = None
    for images in batches:
        rows = features(images)
        if stats is None:
            stats = FeatureStats.empty(rows.shape[1])
        stats.add(rows)
        if progress is not None:
            progress(len(images))
    if stats is None or stats.count < 2:
        raise ValueError("FID needs at least two images on each side")
    return stats


def fid(a: FeatureStats, b: FeatureStats) -> float:
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> float:
    """Kernel Inception Distance: the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, the mean over random
    subsets (as stylegan2-ada's ``kernel_inception_distance``)."""
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError("KID needs at least two images on each side")
    dim = a.shape[1]
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((p @ q.T / dim + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (size * (size - 1))
        total += within - 2 * kxy.mean()
    return float(total / subsets)


def cache_key(network: str, framing: dict, names: Sequence[str]) -> str:
    """Which real statistics these are: the network, how images were framed, and the images' keys."""
    text = json.dumps({"network": network, "framing": framing, "images": list(names)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_stats(path: Path) -> FeatureStats | None:
    """Statistics saved at ``path``; ``None`` when there are none or the file is damaged (computed again)."""
    try:
        return FeatureStats.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, EOFError):
        return None


def save_stats(path: Path, stats: FeatureStats) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, stats.to_bytes())


def cached_stats(cache: Path, key: str, compute: Callable[[], FeatureStats]) -> tuple[FeatureStats, bool]:
    """The statistics saved under ``key``, or computed and saved; and whether they came from the cache."""
    path = cache / f"real-{key}.npz"
    saved = load_stats(path)
    if saved is not None:
        return saved, True
    stats = compute()
    save_stats(path, stats)
    return stats, False


@dataclass(frozen=True)
class InceptionJudge:
    """FID's network as ``aaae eval --fid`` hands it in: the features function, the network's checksum (part of
    the cache key) and where real statistics are cached (``None``: not cached)."""

    features: Features
    network: str
    cache: Path | None = None
    batch: int = 250


def batches(images: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """``images`` ``size`` at a time (views, no copies)."""
    for start in range(0, len(images), size):
        yield images[start : start + size]


def image_stats(
    judge: InceptionJudge, images: Iterable[np.ndarray], total: int, what: str, progress: Progress
) -> FeatureStats:
    """Inception statistics of ``total`` images given a batch at a time, with a progress bar (Inception runs
    at tens of images a second on two cores: 10,000 images take minutes)."""
    with progress.task(f"Inception features: {what}", total, transient=False) as task:
        return feature_stats(images, judge.features, task.advance)


def real_stats(
    judge: InceptionJudge,
    images: np.ndarray,
    framing: dict,
    keys: Sequence[str],
    what: str,
    progress: Progress,
    rows: np.ndarray | None = None,
) -> tuple[FeatureStats, bool]:
    """Statistics of real images (framed as the model frames them), from the cache when these images were
    measured before with the same network and framing. ``rows``: measure only these of ``images``, picked only
    when they are measured (a cache hit copies nothing: 10,000 reference images are 120 MB at 64 px)."""

    def compute() -> FeatureStats:
        chosen = images if rows is None else images[rows]
        return image_stats(judge, batches(chosen, judge.batch), len(chosen), what, progress)

    if judge.cache is None:
        return compute(), False
    return cached_stats(judge.cache, cache_key(judge.network, framing, keys), compute)


def distances(real: FeatureStats, generated: FeatureStats) -> dict[str, float]:
    """FID, and KID on the kept rows (:data:`KID_KEEP` a side)."""
    return {"fid": round(fid(real, generated), 3), "kid": round(kid(real.kept, generated.kept), 5)}
