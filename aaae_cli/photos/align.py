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

import itertools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from aaae_cli.errors import UserError
from aaae_cli.photos.detect import Face

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
    factor = max(1, int(frame.side / size / 1.5))
    if factor > 1:  # reduced first, reading only the photo's pixels: never the whole region at photo resolution
        region = reduced_region(photo, (x0, y0, x1, y1), factor)
    else:  # the neighbourhood, indices clipped to the photo: pixels beyond its edge repeat the edge ones
        rows = np.clip(np.arange(y0, y1), 0, height - 1)
        cols = np.clip(np.arange(x0, x1), 0, width - 1)
        region = photo[rows[:, None], cols[None, :]]
    image = Image.fromarray(region[:, :, 0] if channels == 1 else region)
    # Output pixel (u, v) of the cut -> frame units (u / size) -> photo -> region (reduced) coordinates.
    to_photo = frame.inverse @ np.diag([1.0 / size, 1.0 / size, 1.0])
    to_region = to_photo - np.array([[0, 0, x0], [0, 0, y0]], dtype=np.float64)
    to_region /= factor
    out = image.transform((size, size), Image.Transform.AFFINE, tuple(to_region.ravel()), resample)
    array = np.asarray(out, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def reduced_region(photo: np.ndarray, box: tuple[int, int, int, int], factor: int) -> np.ndarray:
    """The region ``box`` (x0, y0, x1, y1; may leave the photo, whose edge pixels then repeat) of ``photo``
    (H, W, C uint8) averaged over ``factor`` x ``factor`` blocks (partial blocks at the far edges over what they
    hold, as PIL's ``reduce``): uint8 (ceil(h / factor), ceil(w / factor), C).

    Memory and time follow the part of the region inside the photo and the small result, not the region: a frame
    20 times a face's size (a landmark template the config check allowed) asked 9.4 GiB before (issue #23). Rows
    of blocks are summed a few at a time; repeated edge pixels are counted, not copied."""
    width, channels = photo.shape[1:]
    x0, y0, x1, y1 = box
    col_edges = _block_edges(x0, x1, factor)
    row_edges = _block_edges(y0, y1, factor)
    # The photo columns the region reads (at least one, the nearest edge, when it lies wholly outside).
    c0, c1 = min(max(x0, 0), width - 1), max(min(x1, width), 1)
    inside = _inside_counts(col_edges, 0, width)  # (blocks, 3): columns left of, within and right of the photo
    out = np.empty((len(row_edges) - 1, len(col_edges) - 1, channels), dtype=np.uint8)
    group = max(1, (1 << 22) // max(1, (c1 - c0) * channels * factor))  # block rows summed together
    for first in range(0, len(row_edges) - 1, group):
        edges = row_edges[first : first + group + 1]
        sums = np.stack([_row_sum(photo, a, b, c0, c1) for a, b in itertools.pairwise(edges)])
        cumulative = np.concatenate([np.zeros_like(sums[:, :1]), np.cumsum(sums, axis=1)], axis=1)
        lo = np.clip(col_edges[:-1], 0, width) - c0
        hi = np.clip(col_edges[1:], 0, width) - c0
        block = cumulative[:, np.clip(hi, 0, c1 - c0)] - cumulative[:, np.clip(lo, 0, c1 - c0)]
        block += inside[None, :, 0:1] * sums[:, None, 0] + inside[None, :, 2:3] * sums[:, None, -1]
        area = (np.diff(edges)[:, None] * np.diff(col_edges)[None, :])[:, :, None].astype(np.int64)
        out[first : first + len(edges) - 1] = ((block + area // 2) // area).astype(np.uint8)
    return out


def _block_edges(start: int, stop: int, factor: int) -> np.ndarray:
    """Edges of blocks of ``factor`` from ``start`` to ``stop`` (the last block partial)."""
    return np.append(np.arange(start, stop, factor), stop).astype(np.int64)


def _inside_counts(edges: np.ndarray, low: int, high: int) -> np.ndarray:
    """For each block between ``edges``: how many of its indices lie below ``low``, in [low, high), above it."""
    a, b = edges[:-1], edges[1:]
    below = np.clip(np.minimum(b, low) - a, 0, None)
    above = np.clip(b - np.maximum(a, high), 0, None)
    return np.stack([below, b - a - below - above, above], axis=1)


def _row_sum(photo: np.ndarray, a: int, b: int, c0: int, c1: int) -> np.ndarray:
    """Rows a..b of ``photo`` (clipped: rows outside repeat the edge rows) summed, columns c0..c1: int64 (w, C)."""
    height = photo.shape[0]
    lo, hi = min(max(a, 0), height), max(min(b, height), 0)
    total = photo[lo:hi, c0:c1].sum(axis=0, dtype=np.int64) if hi > lo else 0
    above, below = max(0, min(b, 0) - a), max(0, b - max(a, height))
    return total + above * photo[0, c0:c1].astype(np.int64) + below * photo[height - 1, c0:c1].astype(np.int64)


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
    planes = [Image.fromarray(np.ascontiguousarray(change[:, :, k], dtype=np.float32), "F") for k in range(channels)]
    has_gain = gain is not None and bool(gain.any())
    gain_plane = Image.fromarray(np.ascontiguousarray(gain[:, :, 0], dtype=np.float32), "F") if has_gain else None
    rows = max(1, (1 << 20) // (x1 - x0))  # a strip of rows at a time: a frame as large as the photo is bounded
    for top in range(y0, y1, rows):
        bottom = min(y1, top + rows)
        # Strip pixel (x, y) -> photo (x + x0, y + top) -> frame units -> cut pixels (x size).
        shift = np.array([[1, 0, x0], [0, 1, top], [0, 0, 1]], dtype=np.float64)
        to_cut = tuple((np.diag([size, size]) @ frame.matrix @ shift).ravel())
        strip = (x1 - x0, bottom - top)
        region = result[top:bottom, x0:x1]
        factor = _warped(gain_plane, strip, to_cut) if gain_plane is not None else None
        for channel, plane in enumerate(planes):
            moved = _warped(plane, strip, to_cut)
            if factor is not None:
                moved = moved + region[:, :, channel].astype(np.float32) * factor
            moved = np.rint(moved)
            if not moved.any():
                continue
            values = region[:, :, channel].astype(np.int16) + moved.astype(np.int16)
            region[:, :, channel] = np.clip(values, 0, 255).astype(np.uint8)
    return result


def _warped(plane: Image.Image, size: tuple[int, int], to_cut: tuple[float, ...]) -> np.ndarray:
    """A float plane of the cut warped (bilinear) onto ``size`` pixels of the photo by the affine map ``to_cut``."""
    moved = plane.transform(size, Image.Transform.AFFINE, to_cut, Image.Resampling.BILINEAR)
    return np.asarray(moved, dtype=np.float32)


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
    from aaae_cli.photos.detect import detector

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
