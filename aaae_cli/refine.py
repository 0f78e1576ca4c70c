"""Refining a code at reconstruction time: closing part of the encoder's amortisation gap.

The encoder gives each image a code in one pass; it is trained to do well on average, not on *this* image, so
``decode(encode(x))`` is not the best the decoder can do for ``x``. Refinement searches for a code whose
decoding is closer to ``x``: damped Gauss-Newton on the pixel error, with the decoder's Jacobian at the
encoder's code measured by finite differences (c + 1 decodings in one batch) and kept for :data:`RELINEARISE_EVERY`
steps (the chord method; a step then costs one decoding), then measured again where the code has moved to. All
of it runs through the ONNX decoder: no torch, no gradients.

The damping keeps the code near the decoder's well-trodden region: without it the pixel error falls further but
the face drifts off the model's manifold (measured on held-out faces with the shipped faces model:
BENCHMARKS.md, "The faces model"). Refinement changes only reconstructions and the ends of interpolations; an
edit keeps the encoder's code (its direction was measured on encoder codes).

For a face model the pixel error is weighted (:func:`face_weights`): 1 over the face (an ellipse laid on the
model's landmark template), :data:`FACE_FLOOR` over hair and background. A code has only so many dimensions; spent
on the background, they are lost to the face. Chosen without the identity judge, by pixel error alone, on the 60
held-out faces that tune refinement: the smallest floor tried (1, 0.3, 0.1, 0.03) that still leaves the *whole*
frame's error below the unrefined reconstruction's; then on the other 365 faces the identity judge reports it
(BENCHMARKS.md, "The faces model").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Damping, relative to the mean diagonal of J^T J (so it does not depend on a model's code scale).
DAMPING = 0.02
# Finite-difference step on the code (codes have a spread of about 1-3 per dimension).
PROBE = 1e-2
# Steps of ``aaae reconstruct --refine`` when given without a number.
DEFAULT_STEPS = 6
# Steps on one Jacobian: on held-out faces 12 or 24 steps on the first one gained no more than 6 did (the chord
# saturates), while measuring it again after every 6 steps went on improving (BENCHMARKS.md, "The faces model").
RELINEARISE_EVERY = 6
# Weight of pixels away from the face in a face model's refinement (the face itself weighs 1).
FACE_FLOOR = 0.1
# The face ellipse, in eye distances of the landmark template: half-width, half-height; centred on the landmarks'
# mean (between the eyes and the mouth), so it reaches from the brows to the chin and from cheek to cheek.
FACE_HALF_AXES = (1.1, 1.2)
FACE_FEATHER = 0.25  # the ellipse's soft edge, as a fraction of its radius


def face_weights(template: np.ndarray, resolution: int, floor: float = FACE_FLOOR) -> np.ndarray:
    """float64 (resolution, resolution) pixel weights: 1 over the face of a landmark ``template`` (5, 2; eye
    centres first, in fractions of the frame, as bundles store it), falling smoothly to ``floor`` outside."""
    template = np.asarray(template, dtype=np.float64)
    centre = template.mean(axis=0)
    eye_distance = float(np.linalg.norm(template[1] - template[0]))
    half_x, half_y = (eye_distance * k for k in FACE_HALF_AXES)
    pixels = (np.arange(resolution, dtype=np.float64) + 0.5) / resolution
    x, y = np.meshgrid(pixels, pixels)
    radius = np.sqrt(((x - centre[0]) / half_x) ** 2 + ((y - centre[1]) / half_y) ** 2)
    t = np.clip((1.0 + FACE_FEATHER - radius) / FACE_FEATHER, 0.0, 1.0)
    return floor + (1.0 - floor) * t * t * (3.0 - 2.0 * t)


def refine_codes(
    decode: Callable[[np.ndarray], np.ndarray],
    codes: np.ndarray,
    targets: np.ndarray,
    steps: int = DEFAULT_STEPS,
    damping: float = DAMPING,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Codes (N, c) refined for ``steps`` Gauss-Newton steps so that ``decode(codes)`` comes closer to ``targets``.

    ``decode`` maps float32 codes (M, c) to float images (M, ...) in the decoder's range; ``targets`` are the
    images in that same range and layout. ``weights`` (non-negative, broadcastable to one target, e.g. (R, R, 1)
    from :func:`face_weights`) weigh each pixel's squared error; ``None`` weighs all alike. Returns float32 codes;
    ``steps`` 0 returns them unchanged.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if steps <= 0:
        return codes.astype(np.float32)
    weights = np.ones(1) if weights is None else np.asarray(weights, np.float64)
    if np.any(~np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("pixel weights must be finite and non-negative")
    root = np.sqrt(np.broadcast_to(weights, np.shape(targets)[1:])).reshape(-1)

    def weighted(c: np.ndarray) -> np.ndarray:
        return decode(c).reshape(len(c), -1) * root

    refined = np.empty_like(codes)
    for i, (code, target) in enumerate(zip(codes, targets, strict=True)):
        goal = np.asarray(target, dtype=np.float64).reshape(-1) * root
        best = code.copy()
        for start in range(0, steps, RELINEARISE_EVERY):
            best = _chord_steps(weighted, best, goal, min(RELINEARISE_EVERY, steps - start), damping)
        refined[i] = best
    return refined.astype(np.float32)


def _chord_steps(
    decode: Callable[[np.ndarray], np.ndarray], code: np.ndarray, goal: np.ndarray, steps: int, damping: float
) -> np.ndarray:
    """``steps`` damped Gauss-Newton steps from ``code`` on one Jacobian measured there; the best code found."""
    size = code.shape[0]
    probes = np.vstack([code, code + PROBE * np.eye(size)]).astype(np.float32)
    decoded = decode(probes).reshape(size + 1, -1).astype(np.float64)
    jacobian = ((decoded[1:] - decoded[0]) / PROBE).T  # (pixels, c)
    normal = jacobian.T @ jacobian
    scale = float(np.mean(np.diag(normal))) or 1.0
    best, residual = code.copy(), goal - decoded[0]
    best_error, weight = float(residual @ residual), damping
    for _ in range(steps):
        # A step on the fixed Jacobian can overshoot where the decoder bends: it is kept only if the error
        # falls; otherwise the damping grows tenfold and the step is taken again, shorter.
        damped = normal + weight * scale * np.eye(size)
        trial = best + np.linalg.solve(damped, jacobian.T @ residual)
        trial_residual = goal - decode(trial[None].astype(np.float32)).reshape(-1)
        error = float(trial_residual @ trial_residual)
        if error < best_error:
            best, residual, best_error = trial, trial_residual, error
        else:
            weight *= 10.0
    return best
