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


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception-score analogue of class probabilities (rows sum to 1): exp(E_x KL(p(y|x) || p(y))),
    the mean and standard deviation over ``splits`` equal parts (the usual protocol)."""
    probs = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    scores = []
    for part in np.array_split(probs, max(1, min(splits, len(probs)))):
        marginal = part.mean(0, keepdims=True)
        scores.append(float(np.exp((part * (np.log(part) - np.log(marginal))).sum(1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


class GaussianDensity:
    """One full-covariance Gaussian fitted to codes: the simplest ex-post density baseline."""

    def __init__(self, codes: np.ndarray) -> None:
        self.mean, cov = gaussian_stats(codes)
        self.chol = np.linalg.cholesky(cov + 1e-6 * np.trace(cov) / len(cov) * np.eye(len(cov)))

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        return (self.mean + rng.standard_normal((count, len(self.mean))) @ self.chol.T).astype(np.float32)


class GaussianMixture:
    """A full-covariance Gaussian mixture fitted by EM (k-means++ start): the RAE paper's ex-post density.

    Numpy only; O(N d^2 K) per iteration (60,000 codes of 128 dims, K=10: well under a second).
    """

    def __init__(self, components: int = 10, iterations: int = 100, tol: float = 1e-4, seed: int = 0) -> None:
        self.components, self.iterations, self.tol, self.seed = components, iterations, tol, seed
        self.iterations_run = 0
        self.log_likelihood = -np.inf

    def fit(self, codes: np.ndarray) -> GaussianMixture:
        x = np.asarray(codes, dtype=np.float64)
        n, d = x.shape
        k = min(self.components, n)
        rng = np.random.default_rng(self.seed)
        resp = np.zeros((n, k))
        resp[np.arange(n), _kmeans_pp_labels(x, k, rng)] = 1.0
        self.reg = 1e-6 * float(np.trace(np.cov(x, rowvar=False))) / d
        self._m_step(x, resp)
        previous = -np.inf
        for iteration in range(1, self.iterations + 1):
            log_prob = self._log_prob_per_component(x)
            top = log_prob.max(1, keepdims=True)
            log_norm = top + np.log(np.exp(log_prob - top).sum(1, keepdims=True))
            resp = np.exp(log_prob - log_norm)
            self._m_step(x, resp)
            self.log_likelihood = float(log_norm.mean())
            self.iterations_run = iteration
            if abs(self.log_likelihood - previous) < self.tol:
                break
            previous = self.log_likelihood
        return self

    def _m_step(self, x: np.ndarray, resp: np.ndarray) -> None:
        counts = resp.sum(0) + 1e-10
        self.weights = counts / counts.sum()
        self.means = (resp.T @ x) / counts[:, None]
        self.chols = []
        for j in range(len(counts)):
            centred = x - self.means[j]
            cov = (resp[:, j, None] * centred).T @ centred / counts[j]
            self.chols.append(np.linalg.cholesky(cov + self.reg * np.eye(x.shape[1])))

    def _log_prob_per_component(self, x: np.ndarray) -> np.ndarray:
        d = x.shape[1]
        out = np.empty((len(x), len(self.chols)))
        for j, chol in enumerate(self.chols):
            solved = np.linalg.solve(chol, (x - self.means[j]).T)
            log_det = 2 * np.log(np.diag(chol)).sum()
            out[:, j] = np.log(self.weights[j]) - 0.5 * (d * np.log(2 * np.pi) + log_det + (solved**2).sum(0))
        return out

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        picks = rng.choice(len(self.weights), size=count, p=self.weights)
        out = np.empty((count, self.means.shape[1]))
        for j in np.unique(picks):
            rows = picks == j
            out[rows] = self.means[j] + rng.standard_normal((rows.sum(), self.means.shape[1])) @ self.chols[j].T
        return out.astype(np.float32)


def _kmeans_pp_labels(x: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 10) -> np.ndarray:
    """Labels from k-means++ seeding plus a few Lloyd rounds (the mixture's starting point)."""
    centres = [x[rng.integers(len(x))]]
    dist = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        centres.append(x[rng.choice(len(x), p=dist / dist.sum())])
        dist = np.minimum(dist, ((x - centres[-1]) ** 2).sum(1))
    centre_array = np.stack(centres)
    labels = np.zeros(len(x), dtype=int)
    for _ in range(rounds):
        sq = (x**2).sum(1)[:, None] - 2 * x @ centre_array.T + (centre_array**2).sum(1)[None]
        labels = sq.argmin(1)
        for j in range(k):
            if (labels == j).any():
                centre_array[j] = x[labels == j].mean(0)
    return labels
