"""Small, dependency-free metrics on feature vectors (numpy only, no torch, no scipy)."""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows are samples) in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError("need a 2-D array with at least two rows")
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ``|mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr((s1^1/2 s2 s1^1/2)^1/2)``, via symmetric eigendecompositions."""
    sigma1 = np.atleast_2d(sigma1)
    sigma2 = np.atleast_2d(sigma2)
    values, vectors = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)


def frechet_distance_between(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature rows."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
