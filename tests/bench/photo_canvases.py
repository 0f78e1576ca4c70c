""" "Photos in the wild" with known truth: held-out faces placed into larger canvases.

Each held-out CelebA face (an aligned image the model never trained on) is scaled so that its eyes lie 28-80
px apart, rotated by up to 25 degrees, put off-centre on a plain blurred background, and the transform is kept.
So the face's true landmarks and the model's true frame in the canvas are known, and an edit of the canvas
can be judged exactly as the model frames its images (the true frame cut out at the model's resolution).

The source images' own landmarks (the "truth" moved into the canvas) are the detector's on the source image
enlarged 4x: the canvas measures what scaling, rotation and placement do to detection, not the detector's
absolute accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aaae_cli.data.sources import in_validation
from aaae_cli.images import list_images
from aaae_cli.photos.align import Frame, centre_frame
from aaae_cli.photos.detect import detector

CELEBA_CROP = 0.786517  # the faces model's centre crop of CelebA's aligned images
TEMPLATE_EYE_DISTANCE = 0.279  # eye distance in frame units (the shipped faces model's template)


@dataclass
class Canvas:
    pixels: np.ndarray  # uint8 (H, W, 3)
    frame: Frame  # the model's true frame in the canvas
    landmarks: np.ndarray  # true landmarks (5, 2) in the canvas
    source: str  # the held-out image's key
    eye_distance: float
    rotation: float


def held_out_files(celeba: Path, split: str = "held-out", key_prefix: str = "images/") -> list[Path]:
    """CelebA images of one side of the hash split (``held-out`` or ``training``), both pools, sorted."""
    folders = [celeba / "images", celeba / "extra_fullres" / "images"]
    want = split == "held-out"
    return [f for folder in folders for f in list_images(folder) if in_validation(key_prefix + f.name, 0.05) == want]


def source_landmarks(image: np.ndarray, upscale: int = 4) -> np.ndarray | None:
    """The detector's landmarks of the face nearest the centre of ``image``, found on a copy ``upscale`` x larger."""
    h, w = image.shape[:2]
    big = np.asarray(Image.fromarray(image).resize((w * upscale, h * upscale), Image.Resampling.BICUBIC))
    faces = detector(None).detect(big)
    if not faces:
        return None
    centre = np.array([w * upscale / 2, h * upscale / 2])
    face = min(faces, key=lambda f: float(np.linalg.norm(f.landmarks.mean(0) - centre)))
    return face.landmarks / upscale


def _similarity(scale: float, angle_deg: float, shift: np.ndarray) -> np.ndarray:
    a = math.radians(angle_deg)
    rotation = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return np.concatenate([rotation, shift[:, None]], axis=1)


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    base = rng.uniform(40, 220, 3)
    noise = rng.normal(0, 25, (max(2, height // 32), max(2, width // 32), 3))
    low = np.asarray(
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC),
        dtype=np.float32,
    )
    return low


def make_canvas(path: Path, rng: np.random.Generator) -> Canvas | None:
    """One held-out face placed into a new canvas with a random scale, rotation and position."""
    source = np.asarray(Image.open(path).convert("RGB"))
    truth = source_landmarks(source)
    if truth is None:
        return None
    h, w = source.shape[:2]
    src_frame = centre_frame(w, h, CELEBA_CROP)
    eye_distance = float(rng.uniform(28, 80))
    angle = float(rng.uniform(-25, 25))
    src_eyes = float(np.linalg.norm(truth[1] - truth[0]))
    scale = eye_distance / src_eyes
    frame_side = src_frame.side * scale
    side = int(np.clip(frame_side * rng.uniform(2.2, 3.6), 256, 1100))
    canvas_w = int(side * rng.uniform(0.8, 1.25))
    canvas_h = side
    # Frame centre: anywhere that keeps the rotated source image inside the canvas, off-centre.
    src_centre = src_frame.inverse @ np.array([0.5, 0.5, 1.0])
    reach = 0.75 * max(w, h) * scale
    cx = rng.uniform(min(reach, canvas_w / 2), max(canvas_w - reach, canvas_w / 2))
    cy = rng.uniform(min(reach, canvas_h / 2), max(canvas_h - reach, canvas_h / 2))
    linear = _similarity(scale, angle, np.zeros(2))[:, :2]
    place = np.concatenate([linear, (np.array([cx, cy]) - linear @ src_centre)[:, None]], axis=1)  # src -> canvas
    inverse = np.concatenate([np.linalg.inv(linear), -(np.linalg.inv(linear) @ place[:, 2:])], axis=1)
    # Warp the source and a feathered alpha into the canvas (canvas pixel -> source pixel: the inverse).
    warped = Image.fromarray(source).transform(
        (canvas_w, canvas_h), Image.Transform.AFFINE, tuple(inverse.ravel()), Image.Resampling.BICUBIC
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    edge = np.minimum.reduce([xx, yy, w - xx, h - yy]) / (0.08 * min(w, h))
    alpha = Image.fromarray((np.clip(edge, 0, 1) * 255).astype(np.uint8), "L").transform(
        (canvas_w, canvas_h), Image.Transform.AFFINE, tuple(inverse.ravel()), Image.Resampling.BILINEAR
    )
    a = np.asarray(alpha, dtype=np.float32)[:, :, None] / 255.0
    pixels = a * np.asarray(warped, dtype=np.float32) + (1 - a) * _background(rng, (canvas_w, canvas_h))
    frame = Frame(src_frame.matrix @ np.vstack([inverse, [0, 0, 1]]))
    landmarks = truth @ linear.T + place[:, 2]
    return Canvas(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), frame, landmarks, path.name, eye_distance, angle)


def make_canvases(files: list[Path], count: int, seed: int = 0) -> list[Canvas]:
    """``count`` canvases from ``files`` (a seeded choice; sources whose face the detector misses are skipped)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(files))
    canvases: list[Canvas] = []
    for index in order:
        canvas = make_canvas(files[index], rng)
        if canvas is not None:
            canvases.append(canvas)
        if len(canvases) == count:
            break
    return canvases
