"""Code refinement at reconstruction time (``aaae reconstruct --refine``, ``Model.reconstruct(refine=N)``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import aaae_cli
from aaae_cli.refine import refine_codes
from tests.conftest import MNIST, run_cli


def _digits(count: int) -> np.ndarray:
    from PIL import Image

    from aaae_cli.datasets import read_idx
    from aaae_cli.images import prepare_pil

    raw = read_idx(next(MNIST.glob("*images*")))[-count:]
    return np.stack([prepare_pil(Image.fromarray(r, "L"), 32, 1, 1.0) for r in raw])


def test_refinement_brings_reconstructions_closer(tiny_bundle: Path) -> None:
    model = aaae_cli.load(tiny_bundle)
    images = _digits(6)
    error = {n: np.mean((model.reconstruct(images, refine=n) / 255.0 - images / 255.0) ** 2) for n in (0, 4)}
    assert error[4] < 0.9 * error[0], error
    assert np.array_equal(model.reconstruct(images, refine=0), model.decode(model.encode(images)))


def test_refine_codes_solves_a_linear_decoder_exactly() -> None:
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((50, 4))
    truth = rng.standard_normal((2, 4))
    targets = truth @ basis.T
    start = truth + rng.standard_normal((2, 4))
    refined = refine_codes(lambda c: c.astype(np.float64) @ basis.T, start, targets, steps=30)
    assert np.allclose(refined, truth, atol=1e-3)
    assert np.array_equal(refine_codes(lambda c: c, start, targets, steps=0), start.astype(np.float32))


def test_reconstruct_command_refines(tiny_bundle: Path, tmp_path: Path) -> None:
    from aaae_cli.images import save_image

    save_image(_digits(1)[0], tmp_path / "digit.png")
    result = run_cli("reconstruct", str(tmp_path / "digit.png"), "--model", str(tiny_bundle), "--refine", "3",
                     "-o", str(tmp_path / "r.png"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.png").is_file()
    bad = run_cli("reconstruct", str(tmp_path / "digit.png"), "--model", str(tiny_bundle), "--refine", "-1")
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_longer_refinement_measures_the_jacobian_again() -> None:
    """On a curved decoder the first Jacobian stops helping (the chord saturates); measuring it again every
    RELINEARISE_EVERY steps goes on lowering the error."""
    from aaae_cli.refine import RELINEARISE_EVERY, _chord_steps

    rng = np.random.default_rng(1)
    basis = rng.standard_normal((60, 5)) / 2

    def decode(c: np.ndarray) -> np.ndarray:
        return np.tanh(np.asarray(c, dtype=np.float64) @ basis.T)

    truth = rng.standard_normal((1, 5))
    targets = decode(truth)
    start = truth + 1.5 * rng.standard_normal((1, 5))
    steps = 4 * RELINEARISE_EVERY

    def error(code: np.ndarray) -> float:
        return float(np.sum((decode(code) - targets) ** 2))

    one_jacobian = _chord_steps(decode, start[0].copy(), targets[0], steps, 0.02)
    measured_again = refine_codes(decode, start, targets, steps=steps)
    assert error(measured_again) < 0.1 * error(one_jacobian[None]) < error(start), (
        error(measured_again),
        error(one_jacobian[None]),
    )
