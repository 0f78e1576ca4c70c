"""Editing a real photo at its own resolution: the model's *change*, not its rendering, is added to the photo.

A 64-pixel autoencoder cannot redraw a person's photo: its reconstruction loses detail and, for most faces,
identity. But the *difference* its decoder makes when a code moves along an attribute direction,
``delta = G(c + shift) - G(c)`` with ``c = E(face)``, says what the attribute changes (hair lighter here,
mouth corners up there) independently of how well the face itself is rendered. So, for each face:

1. cut the model's frame out of the photo (aligned to the landmark template) at the photo's resolution;
2. encode it at the model's resolution, decode the code with and without the shift;
3. upsample ``delta`` to the cut, weigh it by a feathered, face-shaped :func:`frame_mask` and by a gate on
   the size of the change (:func:`change_gate`: the faint, blurry differences a decoder makes everywhere
   are dropped, the attribute's real change is kept);
4. warp only the weighted change back into the photo and add it (:func:`aaae_cli.align.paste_change`).

The photo itself is never resampled: strength 0 returns it bit for bit and pixels outside the faces never
change. The choices (mask shape, feather, gate) and the photo strengths were measured on canvases of
held-out faces (BENCHMARKS.md, "Photo edits").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from aaae_cli.align import Frame, cut, cut_size, face_frame, paste_change
from aaae_cli.errors import UserError
from aaae_cli.faces import MIN_EYE_DISTANCE, find_faces
from aaae_cli.images import load_image
from aaae_cli.photos import Photo, load_photo

if TYPE_CHECKING:
    from aaae_cli.attributes import AttributeSet


class EditableModel(Protocol):
    """What an edit needs of a model (:class:`aaae_cli.api.Model` is one): its resolution, encoder, raw decoder
    and attribute directions."""

    @property
    def resolution(self) -> int: ...

    @property
    def attributes(self) -> AttributeSet: ...

    def encode(self, images: np.ndarray) -> np.ndarray: ...

    def decode_float(self, codes: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class EditLook:
    """How the change is laid into the photo (chosen by measurement; the fields exist to measure them)."""

    mask_power: float = 4.0  # super-ellipse exponent of the frame mask (2: ellipse; large: a square)
    mask_inner: float = 0.78  # mask is 1 inside this radius (frame half-sides = 1) ...
    mask_outer: float = 1.0  # ... and falls smoothly to 0 at this one
    gate_low: float = 2.0  # grey levels of |change| (at the model's resolution) below which it is dropped
    gate_high: float = 6.0  # ... and above which it is kept whole
    gate_blur: float = 1.0  # blur (model pixels) of |change| before gating, so the gate has no hard edges
    change_blur: float = 0.0  # blur (model pixels) of the change itself: keeps shading and colour, drops shapes
    replace_low: float = 0.0  # |change| (grey levels) from which the model's rendering starts to replace the photo
    replace_high: float = 0.0  # ... and fully replaces it (where an edit moves shapes, adding would ghost); 0: never


DEFAULT_LOOK = EditLook()
# Faces whose changes are made and laid into the photo together (a change is up to 1024 x 1024 x 3 floats).
FACES_PER_STEP = 16


def frame_mask(size: int, look: EditLook = DEFAULT_LOOK) -> np.ndarray:
    """float32 (size, size) in [0, 1]: 1 over the face and hair, falling smoothly to 0 before the frame's edge."""
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(centres, centres)
    radius = (np.abs(x) ** look.mask_power + np.abs(y) ** look.mask_power) ** (1.0 / look.mask_power)
    t = np.clip((look.mask_outer - radius) / max(1e-6, look.mask_outer - look.mask_inner), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep


def change_gate(delta: np.ndarray, look: EditLook = DEFAULT_LOOK) -> np.ndarray:
    """float32 (R, R) in [0, 1] from a change (R, R, C) in grey levels: 0 where it is faint, 1 where it is real."""
    magnitude = np.abs(delta).max(axis=2).astype(np.float32)
    if look.gate_blur > 0:
        magnitude = gaussian_blur(magnitude, look.gate_blur)
    if look.gate_high <= look.gate_low:
        return (magnitude >= look.gate_low).astype(np.float32)
    t = np.clip((magnitude - look.gate_low) / (look.gate_high - look.gate_low), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def gaussian_blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    """A float plane (H, W) blurred by a Gaussian of ``sigma`` pixels (separable; edges repeated)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(plane.astype(np.float32), radius, mode="edge")
    rows = sum(w * padded[:, k : k + plane.shape[1]] for k, w in enumerate(taps))
    return sum(w * rows[k : k + plane.shape[0], :] for k, w in enumerate(taps)).astype(np.float32)


def upsample(plane_stack: np.ndarray, size: int) -> np.ndarray:
    """float (R, R, C) -> float32 (size, size, C), bicubic per channel."""
    if plane_stack.shape[0] == size:
        return plane_stack.astype(np.float32)
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(plane_stack[:, :, k], dtype=np.float32), "F").resize(
                (size, size), Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        for k in range(plane_stack.shape[2])
    ]
    return np.stack(planes, axis=2)


def model_view(photo: np.ndarray, frame: Frame, resolution: int) -> np.ndarray:
    """What the model sees of a frame, prepared as its training images were: an upright frame inside the photo
    (a centre crop) is cropped and Lanczos-resized exactly as in training; a rotated or partly outside one is cut
    at up to 4x the model's resolution (edges repeated), then Lanczos-resized."""
    height, width = photo.shape[:2]
    corners = frame.corners()
    upright = abs(frame.matrix[0, 1]) < 1e-12 and abs(frame.matrix[1, 0]) < 1e-12
    box = np.rint(np.concatenate([corners.min(0), corners.max(0)])).astype(int)
    whole = np.allclose(corners.min(0), box[:2]) and np.allclose(corners.max(0), box[2:])
    inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
    if upright and whole and inside:
        return _resize(photo[box[1] : box[3], box[0] : box[2]], resolution)
    size = int(min(4 * resolution, max(resolution, round(frame.side))))
    return _resize(cut(photo, frame, size), resolution)


def aligned_face(path: str, resolution: int, template: np.ndarray) -> np.ndarray:
    """The largest face of the photo at ``path``, aligned to ``template`` at ``resolution`` (RGB uint8), exactly as
    the runtime frames a photo for a face model; an image aaae wrote itself (already framed) is taken as it is.
    :class:`UserError` when no face large enough is found. Training (``--align face``) and attribute directions
    prepare their images with this too, so training and use see one framing."""
    photo = load_photo(path, 3)
    if photo.framed:
        return load_image(path, resolution, 3, 1.0)
    faces = [f for f in find_faces(photo.pixels) if f.eye_distance >= MIN_EYE_DISTANCE]
    if not faces:
        raise UserError(f"{path}: no face large enough to align")
    face = max(faces, key=lambda f: f.eye_distance)
    return model_view(photo.pixels, face_frame(face, template), resolution)


def _resize(pixels: np.ndarray, resolution: int) -> np.ndarray:
    if pixels.shape[0] == resolution and pixels.shape[1] == resolution:
        return np.ascontiguousarray(pixels)
    img = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    small = np.asarray(img.resize((resolution, resolution), Image.Resampling.LANCZOS), dtype=np.uint8)
    return small[:, :, None] if small.ndim == 2 else small


@dataclass
class FaceChange:
    """One frame's edit: the frame, what the model saw, and the weighted change at the cut's size (grey levels)."""

    frame: Frame
    view: np.ndarray  # uint8 (R, R, C)
    change: np.ndarray  # float32 (S, S, C)


def frame_changes(
    model: EditableModel,
    pixels: np.ndarray,
    frames: Sequence[Frame],
    shift: np.ndarray,
    strengths: Sequence[float],
    look: EditLook = DEFAULT_LOOK,
    masked: bool = True,
    views: np.ndarray | None = None,
) -> list[list[FaceChange]]:
    """For each strength, each frame's change (one encoder call and one decoder call for everything); ``views``:
    what the model sees of each frame, when already cut (:func:`model_view`)."""
    r = model.resolution
    views = np.stack([model_view(pixels, frame, r) for frame in frames]) if views is None else views
    codes = model.encode(views)
    factors = np.asarray(strengths, dtype=np.float32)
    moved = codes[None, :, :] + factors[:, None, None] * shift[None, None, :]
    rendered = model.decode_float(np.concatenate([codes, moved.reshape(-1, codes.shape[1])]))
    base, edited = rendered[: len(frames)], rendered[len(frames) :].reshape(len(strengths), len(frames), r, r, -1)
    return [
        [_face_change(frame, views[f], base[f], edited[s, f], strength, look, masked) for f, frame in enumerate(frames)]
        for s, strength in enumerate(strengths)
    ]


@dataclass
class EncodedFrames:
    """The frames of one photo as the model saw and rendered them: what an interactive editor (``aaae studio``)
    keeps per photo, so that each new set of strengths costs one decoder call and no encoder call."""

    frames: list[Frame]
    views: np.ndarray  # uint8 (F, R, R, C)
    codes: np.ndarray  # float32 (F, c)
    base: np.ndarray  # float32 (F, R, R, C) in [-1, 1]: the decoder's rendering of ``codes``


def encode_frames(model: EditableModel, pixels: np.ndarray, frames: Sequence[Frame]) -> EncodedFrames:
    """Cut, encode and render each frame once (the half of :func:`frame_changes` that does not depend on the edit)."""
    views = np.stack([model_view(pixels, frame, model.resolution) for frame in frames])
    codes = model.encode(views)
    return EncodedFrames(list(frames), views, codes, model.decode_float(codes))


def encoded_changes(
    model: EditableModel, encoded: EncodedFrames, shift: np.ndarray, look: EditLook = DEFAULT_LOOK
) -> list[FaceChange]:
    """Each frame's change for the code offset ``shift`` (strength included), from codes encoded before: the
    same changes as :func:`frame_changes` makes at strength 1, at the cost of one decoder call."""
    if not np.any(shift):
        return [
            _face_change(f, v, b, b, 0.0, look, True)
            for f, v, b in zip(encoded.frames, encoded.views, encoded.base, strict=True)
        ]
    edited = model.decode_float(encoded.codes + shift[None, :])
    return [
        _face_change(frame, encoded.views[f], encoded.base[f], edited[f], 1.0, look, True)
        for f, frame in enumerate(encoded.frames)
    ]


def _face_change(
    frame: Frame,
    view: np.ndarray,
    base: np.ndarray,
    edited: np.ndarray,
    strength: float,
    look: EditLook,
    masked: bool,
) -> FaceChange:
    """One frame's weighted change at the cut's size, from the decoder's renderings with and without the shift."""
    r = view.shape[0]
    size = cut_size(frame, r)
    if strength == 0:
        return FaceChange(frame, view, np.zeros((size, size, view.shape[2]), np.float32))
    delta = (edited - base) * np.float32(127.5)
    if masked and look.replace_high > 0:
        # Where the change is large, take the model's rendering instead of the photo's own (low) frequencies.
        weight = change_gate(delta, replace(look, gate_low=look.replace_low, gate_high=look.replace_high))
        rendered_base = (base + 1.0) * np.float32(127.5)
        delta = delta + weight[:, :, None] * (rendered_base - view.astype(np.float32))
    if masked and look.change_blur > 0:
        delta = np.stack([gaussian_blur(delta[:, :, k], look.change_blur) for k in range(delta.shape[2])], 2)
    if masked:
        delta = delta * change_gate(delta, look)[:, :, None]
    big = upsample(delta, size)
    if masked:
        big *= frame_mask(size, look)[:, :, None]
    return FaceChange(frame, view, big)


def apply_changes(pixels: np.ndarray, changes: Sequence[FaceChange], in_place: bool = False) -> np.ndarray:
    """The photo's pixels with every frame's change added (the photo is never resampled); ``in_place`` changes
    ``pixels`` itself instead of a copy (a 50-megapixel photo is 150 MB)."""
    out = pixels if in_place and pixels.flags.writeable else pixels.copy()
    for change in changes:
        if change.change.any():
            paste_change(out, change.frame, change.change, in_place=True)
    return out


def edit_pixels(
    model: EditableModel,
    photo: Photo,
    frames: Sequence[Frame],
    edits: Mapping[str, float],
    strengths: Sequence[float] = (1.0,),
    keep: Sequence[str] = (),
    look: EditLook = DEFAULT_LOOK,
    in_place: bool = False,
) -> list[np.ndarray]:
    """The photo's pixels edited at each strength (uint8 (H, W, C) each), every frame in ``frames`` edited;
    ``in_place``: the last one is made in ``photo.pixels`` itself (when the original is no longer needed)."""
    shift = model.attributes.shift(edits, keep=keep, photo=True)
    if not frames:
        return [photo.pixels.copy() for _ in strengths]
    # Faces are changed FACES_PER_STEP at a time, so a crowd's changes (up to 12 MB a face) are never all held at
    # once; every face is seen as it was in the photo (views cut before any face is changed).
    views = np.stack([model_view(photo.pixels, frame, model.resolution) for frame in frames])
    last = len(strengths) - 1
    outs = [photo.pixels if in_place and k == last else photo.pixels.copy() for k in range(len(strengths))]
    for start in range(0, len(frames), FACES_PER_STEP):
        step = slice(start, start + FACES_PER_STEP)
        rows = frame_changes(model, photo.pixels, frames[step], shift, strengths, look, views=views[step])
        outs = [apply_changes(out, row, in_place=True) for out, row in zip(outs, rows, strict=True)]
    return outs
