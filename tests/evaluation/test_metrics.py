"""Metrics against closed forms: Frechet distance of Gaussians, IS of one-hot predictions, and the
density baselines recovering known codes."""

from __future__ import annotations

import math

import numpy as np

from aaae_cli.evaluation.metrics import (
    GaussianDensity,
    GaussianMixture,
    frechet_distance,
    frechet_distance_between,
    inception_score,
)


def test_frechet_distance_closed_forms() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    cov = a @ a.T + np.eye(6)
    mu = rng.standard_normal(6)
    assert abs(frechet_distance(mu, cov, mu, cov)) < 1e-8
    # Same covariance: only the means differ.
    assert math.isclose(frechet_distance(mu, cov, mu + 2, cov), 6 * 4, rel_tol=1e-9)
    # Diagonal covariances: sum of (sqrt(s1) - sqrt(s2))^2.
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = float(((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum())
    assert math.isclose(frechet_distance(np.zeros(3), np.diag(s1), np.zeros(3), np.diag(s2)), expected, rel_tol=1e-9)
    # From samples: close to the closed form for large N.
    x = rng.multivariate_normal(mu, cov, 200_000)
    y = rng.multivariate_normal(mu + 1, cov, 200_000)
    assert abs(frechet_distance_between(x, y) - 6) < 0.2


def test_inception_score_of_one_hot_predictions() -> None:
    for classes in (1, 2, 10):
        one_hot = np.eye(classes)[np.arange(10_000) % classes]
        score, spread = inception_score(one_hot)
        assert math.isclose(score, classes, rel_tol=1e-6) and spread < 1e-6
    uniform = np.full((1000, 10), 0.1)
    assert math.isclose(inception_score(uniform)[0], 1.0, rel_tol=1e-9)
    # Confident but always the same class: no diversity, score 1.
    assert math.isclose(inception_score(np.eye(10)[np.zeros(500, dtype=int)])[0], 1.0, rel_tol=1e-6)


def test_density_baselines_recover_known_codes() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[-6.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 8.0, 2.0]])
    weights = np.array([0.5, 0.3, 0.2])
    picks = rng.choice(3, size=6000, p=weights)
    codes = centres[picks] + rng.standard_normal((6000, 3)) * np.array([1.0, 0.5, 0.25])
    gmm = GaussianMixture(components=3, seed=0).fit(codes)
    order = np.argsort(gmm.means[:, 0] + gmm.means[:, 1] * 0.1)
    assert np.allclose(gmm.means[order], centres[[0, 2, 1]], atol=0.15)
    assert np.allclose(np.sort(gmm.weights), np.sort(weights), atol=0.03)
    samples = gmm.sample(6000, np.random.default_rng(2))
    assert frechet_distance_between(samples, codes) < 0.1
    single = GaussianDensity(codes)
    assert np.allclose(single.mean, codes.mean(0), atol=1e-9)
    # One Gaussian matches the first two moments, so its FD is small too; but it puts mass between
    # the clusters, where the mixture puts almost none.
    gauss_samples = single.sample(6000, np.random.default_rng(3))
    assert frechet_distance_between(gauss_samples, codes) < 0.2
    between = lambda s: (np.linalg.norm(s[:, None, :] - centres[None], axis=2).min(1) > 4).mean()  # noqa: E731
    assert between(samples) < 0.01 < 0.1 < between(gauss_samples)
