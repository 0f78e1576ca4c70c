"""Where a model's square frame lies in a photo, cutting it out, and putting a change back.

A model sees its training images through one *frame*: CelebA's faces were aligned by their five landmarks
and then centre-cropped; other data is only centre-cropped. Both are similarity transforms (scale, rotation,
shift) from the photo to the frame, so one type, :class:`Frame`, holds either: :func:`face_frame` fits the
detected landmarks to the model's landmark template (Umeyama's least squares), :func:`centre_frame` is the
plain centre crop.

:func:`cut` resamples the frame out of the photo at any size (edge pixels repeated where the frame leaves the
photo, so a face cut by the photo's edge still works), and :func:`paste_change` warps a change made in the
frame back into the photo and adds it. The photo itself is never resampled: pixels the change does not reach
keep their exact values.

Coordinates are continuous: pixel ``i`` covers ``[i, i + 1)``, its centre is ``i + 0.5`` (PIL's convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from aaae_cli.errors import UserError
from aaae_cli.faces import Face

# The landmark template (left eye, right eye, nose, mouth corners; frame units) that face models are aligned to
# unless their training measured another: the mean MTCNN landmarks of 14,219 CelebA training faces framed by
# CelebA's usual 140/178 centre crop (``models/faces`` config.json, measured 2026-11-27). ``aaae train --align
# face`` aligns training faces to it, so photos and training images share one framing.
FACE_TEMPLATE = np.array(
    [[0.36614, 0.52403], [0.64432, 0.5237], [0.50187, 0.69617], [0.37977, 0.82059], [0.62804, 0.81885]]
)

# The largest side, in pixels, that a frame is cut at for editing (a face larger in the photo is cut smaller
# and its change upsampled on the way back): bounds memory and time for very large photos.
MAX_CUT = 1024


@dataclass(frozen=True)
class Frame:
    """A similarity transform ``matrix`` (2, 3) from photo coordinates to frame units (0..1 across the frame)."""

    matrix: np.ndarray
    face: Face | None = None

    @property
    def inverse(self) -> np.ndarray:
        """Frame units -> photo coordinates, (2, 3)."""
        return _invert(self.matrix)

    @property
    def side(self) -> float:
        """The frame's side in photo pixels."""
        return 1.0 / math.hypot(self.matrix[0, 0], self.matrix[0, 1])

    def corners(self) -> np.ndarray:
        """The frame's corners in photo coordinates, (4, 2)."""
        unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
        return apply(self.inverse, unit)


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def _invert(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], axis=1)


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The similarity transform (2, 3) that maps ``source`` points (K, 2) closest to ``target`` (least squares).

    Umeyama (1991), "Least-squares estimation of transformation parameters between two point patterns";
    reflections are excluded.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    mean_src, mean_dst = src.mean(0), dst.mean(0)
    src_c, dst_c = src - mean_src, dst - mean_dst
    variance = (src_c**2).sum() / len(src)
    if variance <= 0:
        raise UserError("the face's landmarks coincide; cannot align it")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = float((singular * np.diag(sign)).sum() / variance)
    shift = mean_dst - scale * rotation @ mean_src
    return np.concatenate([scale * rotation, shift[:, None]], axis=1)


def face_frame(face: Face, template: np.ndarray) -> Frame:
    """The frame a model with this landmark ``template`` (5, 2, frame units) would see this face in."""
    return Frame(umeyama(face.landmarks, template), face)


def centre_frame(width: int, height: int, crop: float) -> Frame:
    """The centred square of side ``crop`` x the shorter side (how models without a template frame images)."""
    side = max(1, round(min(width, height) * crop))
    left, top = (width - side) // 2, (height - side) // 2
    matrix = np.array([[1.0 / side, 0.0, -left / side], [0.0, 1.0 / side, -top / side]])
    return Frame(matrix)


def cut_size(frame: Frame, resolution: int) -> int:
    """The side to cut a frame at for editing: the photo's own resolution, between the model's and :data:`MAX_CUT`."""
    return int(min(MAX_CUT, max(resolution, round(frame.side))))


def _region(frame: Frame, width: int, height: int, margin: float = 2.0) -> tuple[int, int, int, int]:
    """The frame's bounding box in the photo (x0, y0, x1, y1), a little larger, not clipped to the photo."""
    corners = frame.corners()
    x0, y0 = np.floor(corners.min(0) - margin).astype(int)
    x1, y1 = np.ceil(corners.max(0) + margin).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def cut(
    photo: np.ndarray, frame: Frame, size: int, resample: Image.Resampling = Image.Resampling.BICUBIC
) -> np.ndarray:
    """The frame resampled out of ``photo`` (H, W, C uint8) at ``size`` x ``size``; uint8 (size, size, C).

    Only the frame's neighbourhood is read; where the frame leaves the photo its edge pixels are repeated.
    When the frame is much larger than ``size`` the neighbourhood is first reduced by a whole factor
    (box filter), which also keeps the resampling free of aliasing.
    """
    height, width, channels = photo.shape
    x0, y0, x1, y1 = _region(frame, width, height)
    # The neighbourhood, indices clipped to the photo: pixels beyond its edge repeat the edge ones.
    rows = np.clip(np.arange(y0, y1), 0, height - 1)
    cols = np.clip(np.arange(x0, x1), 0, width - 1)
    region = photo[rows[:, None], cols[None, :]]
    factor = max(1, int(frame.side / size / 1.5))
    image = Image.fromarray(region[:, :, 0] if channels == 1 else region)
    if factor > 1:
        image = image.reduce(factor)
    # Output pixel (u, v) of the cut -> frame units (u / size) -> photo -> region (reduced) coordinates.
    to_photo = frame.inverse @ np.diag([1.0 / size, 1.0 / size, 1.0])
    to_region = to_photo - np.array([[0, 0, x0], [0, 0, y0]], dtype=np.float64)
    to_region /= factor
    out = image.transform((size, size), Image.Transform.AFFINE, tuple(to_region.ravel()), resample)
    array = np.asarray(out, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def paste_change(
    photo: np.ndarray,
    frame: Frame,
    change: np.ndarray,
    in_place: bool = False,
    gain: np.ndarray | None = None,
) -> np.ndarray:
    """``photo`` (H, W, C uint8) changed by a change made in the frame: ``photo * (1 + gain) + change``, both
    warped into the photo (``change`` (S, S, C) float grey levels; ``gain`` (S, S, 1) float or ``None``).

    Both are zero outside the frame; pixels they do not reach keep their exact values. Returns a new uint8 array
    of the photo's shape (``photo`` itself, changed, with ``in_place``).
    """
    height, width, channels = photo.shape
    size = change.shape[0]
    x0, y0, x1, y1 = _region(frame, width, height)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    result = photo if in_place else photo.copy()
    if x1 <= x0 or y1 <= y0:
        return result
    # Region pixel (x, y) -> photo (x + x0, y + y0) -> frame units -> cut pixels (x size).
    to_cut = np.diag([size, size]) @ frame.matrix @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    region = result[y0:y1, x0:x1]

    def warped(plane: np.ndarray) -> np.ndarray:
        image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), "F")
        moved = image.transform(
            (x1 - x0, y1 - y0), Image.Transform.AFFINE, tuple(to_cut.ravel()), Image.Resampling.BILINEAR
        )
        return np.asarray(moved, dtype=np.float32)

    factor = warped(gain[:, :, 0]) if gain is not None and gain.any() else None
    for channel in range(channels):
        moved = warped(change[:, :, channel])
        if factor is not None:
            moved = moved + region[:, :, channel].astype(np.float32) * factor
        moved = np.rint(moved)
        if not moved.any():
            continue
        values = region[:, :, channel].astype(np.int16) + moved.astype(np.int16)
        region[:, :, channel] = np.clip(values, 0, 255).astype(np.uint8)
    return result


def template_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """A landmark template (5, 2): the mean of many faces' landmarks (N, 5, 2), all in frame units."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (5, 2) or len(points) == 0:
        raise ValueError(f"landmarks must be (N, 5, 2), not {points.shape}")
    return points.mean(0)


# A model's images count as faces when the detector finds one in at least this share of them.
FACE_DATA_SHARE = 0.8


def measure_template(framed: np.ndarray, upscale_to: int = 256, probe: int = 50) -> tuple[np.ndarray | None, int]:
    """The landmark template of a model's training images, as the model frames them (N, R, R, 3 uint8).

    Each image is enlarged to ``upscale_to`` pixels (the detector needs faces of 20 px or more), its most
    central face's landmarks are put in frame units, and their mean is the template. Returns the template and
    the number of images a face was found in; the template is ``None`` when faces were found in fewer than
    :data:`FACE_DATA_SHARE` of the images (the data are not faces; decided after the first ``probe`` images
    already when fewer than half of those hold a face, so non-face data cost little).
    """
    from aaae_cli.faces import detector

    images = np.asarray(framed)
    if images.ndim != 4 or images.shape[3] != 3 or len(images) == 0:
        return None, 0
    found: list[np.ndarray] = []
    finder = detector(None)
    for count, image in enumerate(images):
        if count == probe and len(found) < 0.5 * probe:
            return None, len(found)
        big = np.asarray(Image.fromarray(image).resize((upscale_to, upscale_to), Image.Resampling.BICUBIC))
        faces = finder.detect(big)
        if not faces:
            continue
        centre = np.array([upscale_to / 2, upscale_to / 2])
        nearest = min(faces, key=lambda f: float(np.linalg.norm(f.landmarks.mean(0) - centre)))
        found.append(nearest.landmarks / upscale_to)
    if len(found) < FACE_DATA_SHARE * len(images):
        return None, len(found)
    return template_from_landmarks(np.stack(found)), len(found)
