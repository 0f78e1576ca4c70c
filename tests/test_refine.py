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
