"""Code refinement at reconstruction time (``aaae reconstruct --refine``, ``Model.reconstruct(refine=N)``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import aaae_cli
from aaae_cli.refine import refine_codes
from tests.conftest import MNIST, run_cli


def _digits(count: int) -> np.ndarray:
    from PIL import Image

    from aaae_cli.data.sources import read_idx
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


def test_weighted_refinement_fits_the_pixels_that_count() -> None:
    """With pixel weights the code fits the weighted pixels, whatever the others show (a face model weighs the
    face above hair and background); without them the unweighted pixels pull it away."""
    rng = np.random.default_rng(2)
    basis = rng.standard_normal((40, 3))
    truth = rng.standard_normal((1, 3))
    targets = truth @ basis.T
    targets[0, 20:] += 5 * rng.standard_normal(20)  # half of the "image" the code cannot explain
    weights = np.r_[np.ones(20), np.zeros(20)]
    start = truth + rng.standard_normal((1, 3))

    def decode(c: np.ndarray) -> np.ndarray:
        return np.asarray(c, dtype=np.float64) @ basis.T

    weighted = refine_codes(decode, start, targets, steps=30, weights=weights)
    plain = refine_codes(decode, start, targets, steps=30)
    assert np.allclose(weighted, truth, atol=1e-3)
    assert np.abs(plain - truth).max() > 0.1
    with pytest.raises(ValueError, match="non-negative"):
        refine_codes(decode, start, targets, steps=1, weights=-weights)


def test_face_weights_cover_the_template_face() -> None:
    from aaae_cli.refine import FACE_FLOOR, face_weights

    template = np.array([[0.366, 0.524], [0.644, 0.524], [0.502, 0.696], [0.380, 0.821], [0.628, 0.819]])
    weights = face_weights(template, 64)
    assert weights.shape == (64, 64) and weights.min() >= FACE_FLOOR - 1e-12 and weights.max() <= 1
    for x, y in template:  # eyes, nose and mouth weigh fully; the frame's corners and the hair above do not
        assert weights[int(y * 64), int(x * 64)] == 1.0
    assert weights[0, 0] == weights[0, 63] == weights[2, 32] == FACE_FLOOR


def test_face_models_refine_with_face_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import aaae_cli.api

    seen: list[np.ndarray | None] = []

    def spy(decode, codes, targets, steps, weights=None):
        seen.append(weights)
        return codes

    monkeypatch.setattr(aaae_cli.api, "refine_codes", spy)
    faces, digits = aaae_cli.load("faces", device="cpu"), aaae_cli.load("digits", device="cpu")
    faces.reconstruct(np.zeros((1, 64, 64, 3), np.uint8), refine=1)
    digits.reconstruct(np.zeros((1, 32, 32, 1), np.uint8), refine=1)
    assert seen[0] is not None and seen[0].shape == (64, 64, 1) and seen[1] is None


def test_interpolation_ends_are_the_refined_reconstructions(tiny_bundle: Path, tmp_path: Path) -> None:
    from aaae_cli.images import save_image

    model = aaae_cli.load(tiny_bundle)
    a, b = _digits(2)
    row = model.interpolate(a, b, steps=4, refine=3)
    assert np.array_equal(row[[0, -1]], model.reconstruct([a, b], refine=3))
    assert not np.array_equal(row[0], model.interpolate(a, b, steps=4)[0])
    save_image(a, tmp_path / "a.png")
    save_image(b, tmp_path / "b.png")
    result = run_cli("interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--model", str(tiny_bundle),
                     "--refine", "2", "--steps", "3", "-o", str(tmp_path / "row.png"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "row.png").is_file()


def test_face_models_reconstruct_refined_by_default(tmp_path: Path) -> None:
    """``aaae reconstruct`` refines a face model's codes unless told ``--refine 0`` (held-out faces kept as the
    same person: 59% without, 87% with 6 steps); models of other images keep the encoder's code."""
    from PIL import Image

    from tests.conftest import ASTRONAUT

    faces, digits = aaae_cli.load("faces", device="cpu"), aaae_cli.load("digits", device="cpu")
    assert (faces.default_refine, digits.default_refine) == (6, 0)
    for flags, steps in (((), 6), (("--refine", "0"), 0)):
        out = tmp_path / f"r{steps}"
        result = run_cli("reconstruct", str(ASTRONAUT), "--separate", str(out), *flags)
        assert result.returncode == 0, result.stderr
        (written,) = out.iterdir()
        assert np.array_equal(np.asarray(Image.open(written)), faces.reconstruct(ASTRONAUT, refine=steps)[0])
