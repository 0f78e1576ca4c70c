"""Which of the faces found in a photo a face model can edit well, and why the others are skipped.

A 64-pixel model trained on CelebA's near-frontal, in-focus faces draws its change for such a face. On a
head turned far away its frontal change lands beside the face (a mouth drawn in the air); on a blurred
bystander or a blurred object the detector took for a face, it paints a sharp ghost. So before an edit, every
face found is checked, from what is already at hand (the detector's score, its five landmarks, and a small cut
of the face):

- **turned away**: the nose's sideways offset from the eyes' midpoint (yaw) or its height between the eyes and
  the mouth (pitch), both in the model's frame and relative to the landmark template, beyond limits measured on
  CelebA's training faces (what the model has seen; BENCHMARKS.md, "Photo edits");
- **out of focus**: the face's fine detail (high-pass energy over its contrast, on a cut at the model's scale)
  is a small fraction of the main subject's (the sharpest face at least half as large as the largest), as for
  blurred bystanders and blurred objects;
- **too small**: much smaller than the largest face (a face in the far background);
- **not a face**: landmarks that no face's geometry fits (the residual of aligning them to the template).

The limits were set on the dev photos and CelebA (never on the photos that judge the result); ``--faces all``
edits every face found and ``--face N`` the one chosen, whatever the checks say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aaae_cli.photos.align import Frame, apply, cut, face_frame, umeyama
from aaae_cli.photos.detect import Face

# Yaw and pitch (see module docstring) beyond which a face counts as turned away; relative detail and size below
# which a face is out of focus or too small next to the main face; the alignment residual (in eye distances)
# above which the landmarks are not a face's. Measured 2026-12-03 (BENCHMARKS.md, "Photo edits").
MAX_YAW = 0.45
MAX_PITCH = 0.32
MIN_RELATIVE_DETAIL = 0.35
MIN_RELATIVE_SIZE = 0.15
MAX_RESIDUAL = 0.3

REASONS = ("turned away", "out of focus", "too small", "not a face")


@dataclass(frozen=True)
class FaceMeasures:
    """What the checks read off one face: pose, detail, size and how well its landmarks fit a face's."""

    yaw: float
    pitch: float
    detail: float
    eye_distance: float
    residual: float


def pose(landmarks: np.ndarray, template: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, residual) of five landmarks (5, 2) against a landmark template (5, 2).

    In the face's own axes (x along the eyes, y across them): yaw is the nose's offset from the eyes' midpoint
    along x in eye distances, pitch the nose's height below the eyes as a share of the mouth's; both minus the
    template's own, so a face posed like the training faces' mean reads 0. The residual is the RMS distance, in
    the template's eye distances, between the landmarks aligned to the template (similarity) and the template."""

    def measures(points: np.ndarray) -> tuple[float, float]:
        eyes = (points[0] + points[1]) / 2
        along = points[1] - points[0]
        distance = max(float(np.linalg.norm(along)), 1e-6)
        x_axis = along / distance
        y_axis = np.array([-x_axis[1], x_axis[0]])
        nose, mouth = points[2] - eyes, (points[3] + points[4]) / 2 - eyes
        return float(nose @ x_axis / distance), float(nose @ y_axis / max(float(mouth @ y_axis), 1e-6))

    points = np.asarray(landmarks, dtype=np.float64)
    (yaw, pitch), (yaw0, pitch0) = measures(points), measures(np.asarray(template, dtype=np.float64))
    aligned = apply(umeyama(points, template), points)
    residual = float(np.sqrt(((aligned - template) ** 2).sum(1).mean()) / np.linalg.norm(template[1] - template[0]))
    return yaw - yaw0, pitch - pitch0, residual


def measure_face(photo: np.ndarray, face: Face, template: np.ndarray) -> FaceMeasures:
    """The measures of one face of ``photo`` (H, W, 3 uint8) for a model with landmark ``template`` (5, 2)."""
    yaw, pitch, residual = pose(face.landmarks, template)
    detail = face_detail(photo, face_frame(face, template))
    return FaceMeasures(yaw, pitch, detail, face.eye_distance, residual)


def face_detail(photo: np.ndarray, frame: Frame) -> float:
    """Fine detail of the face in ``frame``: high-pass energy over contrast on a 64-pixel cut of its centre."""
    from aaae_cli.photos.edit import _luma, gaussian_blur

    centre = _luma(cut(photo, frame, 64).astype(np.float32))[16:56, 12:52]
    detail = centre - gaussian_blur(centre, 1.0)
    return float(np.sqrt((detail**2).mean()) / (centre.std() + 1e-3))


def skip_reasons(photo: np.ndarray, faces: Sequence[Face], template: np.ndarray) -> list[str | None]:
    """For each face, why it should not be edited (one of :data:`REASONS`), or ``None`` to edit it."""
    if not faces:
        return []
    measures = [measure_face(photo, face, template) for face in faces]
    # The main subject: the sharpest of the faces at least half as large as the largest (a large blurred face in
    # the foreground is not the subject the photographer focused on).
    largest = max(m.eye_distance for m in measures)
    main = max((m for m in measures if m.eye_distance >= 0.5 * largest), key=lambda m: m.detail)
    main_size, main_detail = largest, main.detail
    reasons: list[str | None] = []
    for m in measures:
        if m.residual > MAX_RESIDUAL:
            reasons.append("not a face")
        elif abs(m.yaw) > MAX_YAW or abs(m.pitch) > MAX_PITCH:
            reasons.append("turned away")
        elif m.detail < MIN_RELATIVE_DETAIL * main_detail:
            reasons.append("out of focus")
        elif m.eye_distance < MIN_RELATIVE_SIZE * main_size:
            reasons.append("too small")
        else:
            reasons.append(None)
    return reasons


def summary(edited: int, skipped: Sequence[str]) -> str:
    """``2 faces edited, 1 skipped (turned away)``."""
    text = f"{edited} face" + ("s" if edited != 1 else "") + " edited"
    if skipped:
        counts = {reason: skipped.count(reason) for reason in dict.fromkeys(skipped)}
        why = ", ".join(f"{n} {reason}" if len(counts) > 1 else reason for reason, n in counts.items())
        text += f", {len(skipped)} skipped ({why})"
    return text
