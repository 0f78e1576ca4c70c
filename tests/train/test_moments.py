"""``aaae_train.moments``: the approximator's code mean and covariance matched to the training codes', folded
into its last layer (``aaae export``; --no-match-moments keeps the approximator as trained)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from aaae_train.moments import FIT_SEED, gaussian_transport, match_moments
from aaae_train.networks import Approximator, ArchConfig


def _correlated_codes(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    return rng.standard_normal((count, dim)) @ mixing.T * 2.0 + rng.standard_normal(dim)


def test_gaussian_transport_carries_mean_and_covariance() -> None:
    rng = np.random.default_rng(0)
    source = rng.standard_normal((5000, 6)) ** 3  # far from Gaussian: only the moments are carried
    target = _correlated_codes(rng, 3000, 6)
    transport, shift = gaussian_transport(source, target)
    moved = source @ transport.T + shift
    np.testing.assert_allclose(moved.mean(0), target.mean(0), atol=1e-9)
    np.testing.assert_allclose(np.cov(moved, rowvar=False), np.cov(target, rowvar=False), atol=1e-8)
    np.testing.assert_allclose(transport, transport.T, atol=1e-10)  # the optimal map is a symmetric matrix


def test_gaussian_transport_is_the_identity_between_equal_moments() -> None:
    source = _correlated_codes(np.random.default_rng(1), 4000, 5)
    transport, shift = gaussian_transport(source, source)
    np.testing.assert_allclose(transport, np.eye(5), atol=1e-6)
    np.testing.assert_allclose(shift, 0, atol=1e-6)


@pytest.mark.parametrize("components", [0, 4])
def test_match_moments_folds_the_map_into_the_approximator(components: int) -> None:
    torch.manual_seed(0)
    arch = ArchConfig(resolution=32, channels=1, width=0.125, z_dim=8, c_dim=12, approx_hidden=32,
                      approx_layers=2, approx_components=components)  # fmt: skip
    approximator = Approximator(arch).eval()
    approximator.code_mean.copy_(torch.linspace(-1, 1, 12))  # standardised codes, as aaae train keeps them
    approximator.code_std.copy_(torch.linspace(0.5, 2, 12))
    codes = _correlated_codes(np.random.default_rng(2), 4000, 12)
    z = torch.randn(3000, 8, generator=torch.Generator().manual_seed(9))
    original = copy.deepcopy(approximator)
    with torch.no_grad():
        before = approximator(z).double().numpy()

    record = match_moments(approximator, codes, samples=20_000)

    with torch.no_grad():
        after = approximator(z).double().numpy()
    # The new outputs are the old ones moved by the map fitted on the old approximator's samples (the fold is
    # exact, standardisation included)...
    fit_z = torch.randn(20_000, 8, generator=torch.Generator().manual_seed(FIT_SEED))
    with torch.no_grad():
        transport, shift = gaussian_transport(original(fit_z).double().numpy(), codes)
    np.testing.assert_allclose(after, before @ transport.T + shift, atol=1e-4)
    # ... and fresh samples have the codes' moments (up to sampling error), which they did not have before.
    assert np.abs(after.mean(0) - codes.mean(0)).max() < 0.1
    cov_error = np.abs(np.cov(after, rowvar=False) - np.cov(codes, rowvar=False)).max()
    assert cov_error < 0.1 * np.abs(np.cov(codes, rowvar=False)).max()
    assert np.abs(before.mean(0) - codes.mean(0)).max() > 0.5
    assert record.codes == 4000 and record.samples == 20_000 and record.largest_stretch > 1
    assert set(record.to_dict()) >= {"matched_to", "codes", "samples", "spread_before", "stretch"}


def test_match_moments_refuses_too_few_codes() -> None:
    approximator = Approximator(ArchConfig(resolution=32, channels=1, width=0.125, c_dim=4, approx_hidden=8))
    with pytest.raises(ValueError, match="at least two codes"):
        match_moments(approximator, np.zeros((1, 4)))
