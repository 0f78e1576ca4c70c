"""Match the approximator's code moments to the encoder's, folded into its last layer (``aaae export``).

Why: an adversarially trained sampler is mode-seeking. The shipped faces approximator, after 70,000 steps,
spreads its codes less than the encoder does (a smaller standard deviation per dimension and a smaller covariance
trace), and more training no longer changed that. Its samples looked like faces but were much further from the
real faces than the reconstructions, by the evaluator's FD (BENCHMARKS.md, "The faces model").

The fix keeps everything the approximator learned about the *shape* of the code distribution and corrects only
its first two moments: the affine map

    T(c) = mu + M (c - m),    M = A^(-1/2) (A^(1/2) C A^(1/2))^(1/2) A^(-1/2)

sends a Gaussian with the sampler's mean and covariance (m, A) onto one with the codes' (mu, C), and among all
such maps it moves samples the least (the 2-Wasserstein map between Gaussians; Knott & Smith 1984). Since the
approximator's last layer is linear, T is folded into its weights: the exported graph keeps its size and inputs,
and the runtime knows nothing of it. Not in the paper; ``aaae export --no-match-moments`` keeps the paper's sampler.

Moments are fitted on the *training* split's codes (the held-out split stays for judging) and on a fixed-seed
batch of the approximator's own samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from aaae_train.networks import Approximator, ComponentMLP

FIT_SAMPLES = 50_000  # approximator samples the sampler's moments are measured on
FIT_SEED = 20190216
EIGEN_FLOOR = 1e-6  # relative to the largest eigenvalue: a flat direction is not stretched without bound


@dataclass(frozen=True)
class MomentMatch:
    """What :func:`match_moments` did, for the bundle's config (``export.approximator_moments``)."""

    codes: int  # training codes the target moments come from
    samples: int  # approximator samples its own moments come from
    spread_before: float  # trace of the sampler's covariance / trace of the codes'
    mean_shift: float  # |m - mu| / sqrt(trace of the codes' covariance)
    largest_stretch: float  # largest singular value of M
    smallest_stretch: float  # smallest singular value of M

    def to_dict(self) -> dict:
        return {
            "matched_to": "training codes",
            "method": "Gaussian optimal-transport map folded into the last layer",
            "codes": self.codes,
            "samples": self.samples,
            "spread_before": round(self.spread_before, 4),
            "mean_shift": round(self.mean_shift, 4),
            "stretch": [round(self.smallest_stretch, 4), round(self.largest_stretch, 4)],
        }


def _sym_power(matrix: np.ndarray, power: float) -> np.ndarray:
    """``matrix ** power`` of a symmetric positive semi-definite matrix (eigenvalues floored, see EIGEN_FLOOR)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    values = np.maximum(values, EIGEN_FLOOR * max(float(values.max()), 1e-300))
    return (vectors * values**power) @ vectors.T


def gaussian_transport(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(M, t)`` with ``x @ M.T + t`` carrying the mean and covariance of ``source`` (N, d) onto ``target``'s
    (K, d): the least-displacement affine map between the two moment-matched Gaussians."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(f"need two (N, d) arrays of one d, got {source.shape} and {target.shape}")
    if min(len(source), len(target)) < 2:
        raise ValueError("need at least two rows in each array")
    m, mu = source.mean(0), target.mean(0)
    a, c = np.cov(source, rowvar=False).reshape(len(m), len(m)), np.cov(target, rowvar=False).reshape(len(m), len(m))
    a_half, a_inv_half = _sym_power(a, 0.5), _sym_power(a, -0.5)
    transport = a_inv_half @ _sym_power(a_half @ c @ a_half, 0.5) @ a_inv_half
    return transport, mu - transport @ m


def last_linear(approximator: Approximator) -> nn.Linear:
    """The approximator's output layer (plain MLP or :class:`ComponentMLP`)."""
    layers = approximator.net.layers if isinstance(approximator.net, ComponentMLP) else approximator.net
    layer = layers[-1]
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"the approximator ends in {type(layer).__name__}, not a linear layer")
    return layer


@torch.no_grad()
def match_moments(
    approximator: Approximator, codes: np.ndarray, samples: int = FIT_SAMPLES, seed: int = FIT_SEED
) -> MomentMatch:
    """Fold the map of the module docstring into ``approximator`` (in place) so that its codes have the mean and
    covariance of ``codes`` (N, c_dim: the training split's encoder codes)."""
    approximator.eval()
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or len(codes) < 2:
        raise ValueError(f"need at least two codes as an (N, c_dim) array, got {codes.shape}")
    z = torch.randn(samples, approximator.z_dim, generator=torch.Generator().manual_seed(seed))
    sampled = approximator(z).double().numpy()
    transport, shift = gaussian_transport(sampled, codes)

    # c = s * (W h + b) + m0 is the approximator's output; T(c) = M c + t. In its standardised space the new
    # layer gives (T(c) - m0) / s = K W h + K b + (M m0 + t - m0) / s, with K = diag(1/s) M diag(s).
    layer = last_linear(approximator)
    std = approximator.code_std.double().numpy()
    mean0 = approximator.code_mean.double().numpy()
    k = transport * std[None, :] / std[:, None]
    weight = k @ layer.weight.double().numpy()
    bias = k @ layer.bias.double().numpy() + (transport @ mean0 + shift - mean0) / std
    layer.weight.copy_(torch.from_numpy(weight))
    layer.bias.copy_(torch.from_numpy(bias))

    code_variance = float(codes.var(axis=0, ddof=1).sum())  # the covariance's trace
    singular = np.linalg.svd(transport, compute_uv=False)
    return MomentMatch(
        codes=len(codes),
        samples=samples,
        spread_before=float(sampled.var(axis=0, ddof=1).sum()) / code_variance,
        mean_shift=float(np.linalg.norm(sampled.mean(0) - codes.mean(0))) / np.sqrt(code_variance),
        largest_stretch=float(singular.max()),
        smallest_stretch=float(singular.min()),
    )
