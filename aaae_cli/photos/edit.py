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
4. warp only the weighted change back into the photo and add it (:func:`aaae_cli.photos.align.paste_change`).

The photo itself is never resampled: strength 0 returns it bit for bit and pixels outside the faces never
change. The choices (mask shape, feather, gate) and the photo strengths were measured on canvases of
held-out faces (BENCHMARKS.md, "Photo edits").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from PIL import Image

from aaae_cli.errors import UserError
from aaae_cli.images import load_image
from aaae_cli.photos.align import Frame, cut, cut_size, face_frame, paste_change
from aaae_cli.photos.detect import MIN_EYE_DISTANCE, find_faces
from aaae_cli.photos.io import Photo, load_photo


class EditDirections(Protocol):
    """What an edit needs of a model's attribute directions (:class:`aaae_cli.bundle.attributes.AttributeSet` is
    one): the code shift of a set of edits, and a name's canonical spelling."""

    def shift(self, edits: Mapping[str, float], keep: Sequence[str] = (), photo: bool = False) -> np.ndarray: ...

    def resolve(self, name: str) -> str: ...


class EditableModel(Protocol):
    """What an edit needs of a model (:class:`aaae_cli.api.Model` is one): its resolution, encoder, raw decoder
    and attribute directions."""

    @property
    def resolution(self) -> int: ...

    @property
    def attributes(self) -> EditDirections: ...

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
    # How the change is applied: "relative" scales the photo's own luminance (darker: multiplied; lighter: moved
    # toward white in proportion), the same factor for every channel, so hue, greyscale and texture are kept and
    # colour is added only by attributes about colour on colour photos; "additive": the model's change added as is.
    blend: str = "relative"
    relative_floor: float = 16.0  # grey levels added under both renderings' luminance before a darkening ratio
    # Fit gate: where the model's rendering of the face differs from the photo by more than fit_high grey levels
    # (background, occluders, padding) the change fades out; below fit_low it is kept whole. 0: no fit gate.
    fit_low: float = 24.0
    fit_high: float = 48.0
    fit_blur: float = 1.5  # blur (model pixels) of the fit error before gating
    # Subject gate: outside the face's core (an ellipse on the landmark template) the change is kept only where
    # the photo has texture of its own (hair, clothes), not on a smooth backdrop, where a change is a halo.
    # Measured on a cut of TEXTURE_CUT pixels: local high-pass energy below texture_low grey levels is a
    # backdrop, above texture_high a subject. texture_high 0: no subject gate.
    texture_low: float = 1.0
    texture_high: float = 3.0
    # Hair colours stay off the skin of the inner face: outside the face's core shrunk by this factor (measured on the
    # dev photos with the calibrating judge: the whole core kept Blond_Hair from reading as blond at any strength).
    hair_core: float = 0.7


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
    at up to 4x the model's resolution, then Lanczos-resized. Where the frame leaves the photo (a tight crop), the
    missing part is filled with a smooth continuation of the photo's border (not the streaks that repeating its
    edge pixels would draw, which the model would copy)."""
    height, width = photo.shape[:2]
    corners = frame.corners()
    upright = abs(frame.matrix[0, 1]) < 1e-12 and abs(frame.matrix[1, 0]) < 1e-12
    box = np.rint(np.concatenate([corners.min(0), corners.max(0)])).astype(int)
    whole = np.allclose(corners.min(0), box[:2]) and np.allclose(corners.max(0), box[2:])
    inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
    if upright and whole and inside:
        return _resize(photo[box[1] : box[3], box[0] : box[2]], resolution)
    size = int(min(4 * resolution, max(resolution, round(frame.side))))
    view = _resize(cut(photo, frame, size), resolution)
    covered = frame_inside(frame, width, height, resolution)
    if covered.min() >= 0.999:
        return view
    return fill_outside(view, covered)


def frame_inside(frame: Frame, width: int, height: int, size: int) -> np.ndarray:
    """float32 (size, size) in [0, 1]: the share of each cell of the frame (cut at ``size``) that lies in the photo."""
    sub = 4  # 4 x 4 samples a cell
    steps = (np.arange(size * sub, dtype=np.float64) + 0.5) / (size * sub)
    u, v = np.meshgrid(steps, steps)
    inverse = frame.inverse
    x = inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]
    y = inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]
    hit = ((x >= 0) & (x <= width) & (y >= 0) & (y <= height)).astype(np.float32)
    return hit.reshape(size, sub, size, sub).mean(axis=(1, 3))


def fill_outside(view: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """``view`` (R, R, C uint8) with its cells outside the photo (``covered`` < 1) replaced by a smooth fill: the
    photo's pixels spread outward by normalised blurring (wide enough to reach the far side of the frame)."""
    r = view.shape[0]
    weight = (covered >= 0.5).astype(np.float32)
    if weight.sum() == 0:
        return view
    sigma = r / 8.0
    spread_weight = gaussian_blur(weight, sigma)
    pixels = view.astype(np.float32)
    filled = np.empty_like(pixels)
    for k in range(pixels.shape[2]):
        filled[:, :, k] = gaussian_blur(pixels[:, :, k] * weight, sigma) / np.maximum(spread_weight, 1e-6)
    keep = np.clip(covered, 0.0, 1.0)[:, :, None]
    out = keep * pixels + (1.0 - keep) * filled
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


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
    """One frame's edit at the cut's size: the photo becomes ``photo * (1 + gain) + change`` there.

    ``change`` is float32 (S, S, C) in grey levels; ``gain`` float32 (S, S, 1) or ``None`` (purely additive). A
    relative edit keeps the photo's own texture: the model's soft change scales the sharp photo instead of lying
    over it."""

    frame: Frame
    view: np.ndarray  # uint8 (R, R, C)
    change: np.ndarray  # float32 (S, S, C)
    gain: np.ndarray | None = None  # float32 (S, S, 1)

    @property
    def is_zero(self) -> bool:
        return not self.change.any() and (self.gain is None or not self.gain.any())


# Attributes about colour: only these may change a colour photo's hue (hair colour, make-up, skin tone). Other
# attributes of a face model change only the luminance, so the skin keeps its hue. Attributes of models trained
# on other data (names not in CelebA's 40) may change colour.
COLOUR_ATTRIBUTES = frozenset(
    name.lower()
    for name in (
        "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair", "Pale_Skin", "Rosy_Cheeks", "Heavy_Makeup",
        "Wearing_Lipstick",
    )
)  # fmt: skip
HAIR_COLOURS = frozenset(name.lower() for name in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"))
CELEBA_ATTRIBUTES = frozenset(
    name.lower()
    for name in (
        "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
        "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
        "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
        "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
        "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
        "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
    )
)  # fmt: skip


@dataclass(frozen=True)
class EditScope:
    """What an edit may touch, from the attributes edited: hue (``colour``), and whether it stays off the skin
    (``hair_only``: every attribute is a hair colour)."""

    colour: bool = True
    hair_only: bool = False

    @classmethod
    def of(cls, edits: Mapping[str, float]) -> EditScope:
        """The scope of ``edits`` (canonical attribute names -> strengths)."""
        return cls(edits_change_colour(edits), edits_only_hair_colour(edits))


def edits_only_hair_colour(edits: Mapping[str, float]) -> bool:
    """Whether every attribute edited is a hair colour (then the change is kept off the face's skin)."""
    names = [name.lower() for name, value in edits.items() if value]
    return bool(names) and all(name in HAIR_COLOURS for name in names)


def edits_change_colour(edits: Mapping[str, float]) -> bool:
    """Whether any attribute edited (with a non-zero strength) is about colour (:data:`COLOUR_ATTRIBUTES`)."""
    names = [name.lower() for name, value in edits.items() if value]
    return any(name in COLOUR_ATTRIBUTES or name not in CELEBA_ATTRIBUTES for name in names)


# A photo is monochrome (black-and-white, or toned like sepia) when its pixels' chroma is a function of their
# luminance (one tone: 95% of pixels within MONOCHROME_TONE grey levels of the mean chroma at their luminance), or
# when 95% of it lies within MONOCHROME_ALONG and MONOCHROME_ACROSS grey levels of the mean chroma, along the main
# hue axis and across it (a noisy, faint toning). Measured on the 55 dev photos: grey and toned scans <= 3.4, or
# 13.7 and 4.3; the least colourful colour portraits 9.1, or 16.3 and 2.4 (a near-grey snow scene, 7.5 and 7.0
# and 1.8, is taken as monochrome, which only keeps its colour as it is).
MONOCHROME_TONE = 5.0
MONOCHROME_ALONG = 15.0
MONOCHROME_ACROSS = 5.0


def is_monochrome(pixels: np.ndarray) -> bool:
    """Whether a photo (H, W, C uint8) has no colour of its own to keep: greyscale, or one tone (sepia, cyanotype)."""
    if pixels.shape[2] == 1:
        return True
    step = max(1, int(max(pixels.shape[:2]) // 256))
    rgb = pixels[::step, ::step].reshape(-1, 3).astype(np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    chroma = np.stack([(rgb[:, 2] - luma) * 0.564, (rgb[:, 0] - luma) * 0.713], axis=1)
    centred = chroma - chroma.mean(0)
    if not centred.any():
        return True
    levels = np.clip((luma // 16).astype(np.int64), 0, 15)
    counts = np.maximum(np.bincount(levels, minlength=16), 1)[:, None]
    tone = np.stack([np.bincount(levels, chroma[:, k], minlength=16) for k in range(2)], axis=1) / counts
    if np.percentile(np.linalg.norm(chroma - tone[levels], axis=1), 95) <= MONOCHROME_TONE:
        return True
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    along = np.percentile(np.abs(centred @ axes[0]), 95)
    across = np.percentile(np.abs(centred @ axes[1]), 95)
    return bool(along <= MONOCHROME_ALONG and across <= MONOCHROME_ACROSS)


LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _luma(pixels: np.ndarray) -> np.ndarray:
    """(R, R, C) grey levels -> (R, R) luminance (the plane itself for one channel)."""
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels @ LUMA


def frame_changes(
    model: EditableModel,
    pixels: np.ndarray,
    frames: Sequence[Frame],
    shift: np.ndarray,
    strengths: Sequence[float],
    look: EditLook = DEFAULT_LOOK,
    masked: bool = True,
    scope: EditScope = EditScope(),
    views: np.ndarray | None = None,
    subjects: Sequence[np.ndarray | None] | None = None,
) -> list[list[FaceChange]]:
    """For each strength, each frame's change (one encoder call and one decoder call for everything). ``scope``:
    what the edit may touch (:meth:`EditScope.of` the edits); hue never on a monochrome photo. ``views`` and
    ``subjects``: what the model sees of each frame and its :func:`subject_gate`, when already made."""
    r = model.resolution
    views = np.stack([model_view(pixels, frame, r) for frame in frames]) if views is None else views
    covers = [frame_inside(frame, pixels.shape[1], pixels.shape[0], r) for frame in frames]
    subjects = [subject_gate(pixels, frame, look) for frame in frames] if subjects is None else subjects
    scope = replace(scope, colour=scope.colour and not is_monochrome(pixels))
    codes = model.encode(views)
    factors = np.asarray(strengths, dtype=np.float32)
    moved = codes[None, :, :] + factors[:, None, None] * shift[None, None, :]
    rendered = model.decode_float(np.concatenate([codes, moved.reshape(-1, codes.shape[1])]))
    base, edited = rendered[: len(frames)], rendered[len(frames) :].reshape(len(strengths), len(frames), r, r, -1)
    return [
        [
            _face_change(frame, views[f], base[f], edited[s, f], strength, look, masked, scope, covers[f], subjects[f])
            for f, frame in enumerate(frames)
        ]
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
    covers: list[np.ndarray] | None = None  # float32 (R, R) each: the share of each cell inside the photo
    subjects: list[np.ndarray | None] | None = None  # each frame's :func:`subject_gate`
    monochrome: bool = False


def encode_frames(model: EditableModel, pixels: np.ndarray, frames: Sequence[Frame]) -> EncodedFrames:
    """Cut, encode and render each frame once (the half of :func:`frame_changes` that does not depend on the edit)."""
    r = model.resolution
    views = np.stack([model_view(pixels, frame, r) for frame in frames])
    covers = [frame_inside(frame, pixels.shape[1], pixels.shape[0], r) for frame in frames]
    subjects = [subject_gate(pixels, frame) for frame in frames]
    codes = model.encode(views)
    return EncodedFrames(list(frames), views, codes, model.decode_float(codes), covers, subjects, is_monochrome(pixels))


def encoded_changes(
    model: EditableModel,
    encoded: EncodedFrames,
    shift: np.ndarray,
    look: EditLook = DEFAULT_LOOK,
    scope: EditScope = EditScope(),
) -> list[FaceChange]:
    """Each frame's change for the code offset ``shift`` (strength included), from codes encoded before: the
    same changes as :func:`frame_changes` makes at strength 1, at the cost of one decoder call."""
    scope = replace(scope, colour=scope.colour and not encoded.monochrome)
    covers = encoded.covers or [None] * len(encoded.frames)
    subjects = encoded.subjects or [None] * len(encoded.frames)
    if not np.any(shift):
        return [
            _face_change(f, v, b, b, 0.0, look, True, scope)
            for f, v, b in zip(encoded.frames, encoded.views, encoded.base, strict=True)
        ]
    edited = model.decode_float(encoded.codes + shift[None, :])
    return [
        _face_change(
            frame, encoded.views[f], encoded.base[f], edited[f], 1.0, look, True, scope, covers[f], subjects[f]
        )
        for f, frame in enumerate(encoded.frames)
    ]


def fit_gate(view: np.ndarray, base: np.ndarray, look: EditLook = DEFAULT_LOOK) -> np.ndarray:
    """float32 (R, R) in [0, 1]: 1 where the model's rendering ``base`` (grey levels) explains the photo's
    ``view`` (its luminance, blurred to the rendering's softness), falling to 0 where it does not (background,
    hands, hair the model cannot draw, the filled part of a tight crop): the change fades out there."""
    if look.fit_high <= 0:
        return np.ones(view.shape[:2], np.float32)
    seen = gaussian_blur(_luma(view.astype(np.float32)), 1.0)
    error = np.abs(seen - _luma(base))
    if look.fit_blur > 0:
        error = gaussian_blur(error, look.fit_blur)
    t = np.clip((look.fit_high - error) / max(1e-6, look.fit_high - look.fit_low), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


TEXTURE_CUT = 128
# The face's core in frame units (centre x, y and half-axes), around the landmark template's eyes, nose and mouth.
FACE_CORE = (0.5, 0.62, 0.27, 0.33)


def subject_gate(photo: np.ndarray, frame: Frame, look: EditLook = DEFAULT_LOOK) -> np.ndarray | None:
    """float32 (T, T) in [0, 1] over the frame (T = :data:`TEXTURE_CUT`): 1 on the face's core and where the photo
    has texture (hair, clothes), 0 on a smooth backdrop. ``None`` when the face is too small in the photo to
    tell texture from blur (its frame spans fewer than T pixels): then nothing is gated."""
    if look.texture_high <= 0 or frame.side < TEXTURE_CUT:
        return None
    seen = _luma(cut(photo, frame, TEXTURE_CUT).astype(np.float32))
    detail = seen - gaussian_blur(seen, 1.0)
    energy = np.sqrt(gaussian_blur(detail * detail, 1.5))
    t = np.clip((energy - look.texture_low) / max(1e-6, look.texture_high - look.texture_low), 0.0, 1.0)
    textured = t * t * (3.0 - 2.0 * t)
    return gaussian_blur(np.maximum(face_core(TEXTURE_CUT), textured), 1.0)


def face_core(size: int, shrink: float = 1.0) -> np.ndarray:
    """float32 (size, size) in [0, 1] over the frame: 1 on the face's skin (:data:`FACE_CORE`), fading out by the
    hairline, the ears and the chin."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    x, y = np.meshgrid(centres, centres)
    cx, cy, ax, ay = FACE_CORE
    radius = np.sqrt(((x - cx) / (ax * shrink)) ** 2 + ((y - cy) / (ay * shrink)) ** 2)
    return np.clip((1.2 - radius) / 0.4, 0.0, 1.0).astype(np.float32)


def _relative_change(
    base: np.ndarray, edited: np.ndarray, look: EditLook, colour: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The change from ``base`` to ``edited`` (R, R, C grey levels) as a gain (R, R, 1) and an offset (R, R, C):
    ``photo * (1 + gain) + offset``. Darker: the photo's luminance multiplied by the renderings' ratio; lighter:
    moved toward white by the share of the way the rendering moved. The same for every channel (hue and grey
    kept); with ``colour`` the rendering's change of chroma is added too."""
    y_base, y_edited = _luma(base), _luma(edited)
    darker = y_edited < y_base
    floor = look.relative_floor
    ratio = np.where(darker, (y_edited + floor) / (y_base + floor), 1.0)
    toward_white = np.where(darker, 0.0, (y_edited - y_base) / np.maximum(255.0 - y_base + floor, 1.0))
    gain = (ratio - 1.0 - toward_white).astype(np.float32)[:, :, None]
    offset = np.repeat((255.0 * toward_white).astype(np.float32)[:, :, None], base.shape[2], axis=2)
    if colour and base.shape[2] == 3:
        offset += (edited - y_edited[:, :, None]) - (base - y_base[:, :, None])
    return gain, offset


def _face_change(
    frame: Frame,
    view: np.ndarray,
    base: np.ndarray,
    edited: np.ndarray,
    strength: float,
    look: EditLook,
    masked: bool,
    scope: EditScope = EditScope(),
    covered: np.ndarray | None = None,
    subject: np.ndarray | None = None,
) -> FaceChange:
    """One frame's weighted change at the cut's size, from the decoder's renderings with and without the shift:
    gated by the fit of the rendering (:func:`fit_gate`), the part of the frame inside the photo (``covered``)
    and the subject (``subject``, :func:`subject_gate`)."""
    r = view.shape[0]
    size = cut_size(frame, r)
    if strength == 0:
        return FaceChange(frame, view, np.zeros((size, size, view.shape[2]), np.float32))
    if look.blend == "relative":
        return _relative_face_change(frame, view, base, edited, look, masked, scope, covered, subject, size)
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


def _relative_face_change(
    frame: Frame,
    view: np.ndarray,
    base: np.ndarray,
    edited: np.ndarray,
    look: EditLook,
    masked: bool,
    scope: EditScope,
    covered: np.ndarray | None,
    subject: np.ndarray | None,
    size: int,
) -> FaceChange:
    base_levels = (base + 1.0) * np.float32(127.5)
    edited_levels = (edited + 1.0) * np.float32(127.5)
    gain, offset = _relative_change(base_levels, edited_levels, look, scope.colour)
    if masked:
        weight = change_gate((edited_levels - base_levels), look) * fit_gate(view, base_levels, look)
        if covered is not None:
            weight = weight * np.clip(covered, 0.0, 1.0)
        gain, offset = gain * weight[:, :, None], offset * weight[:, :, None]
    big_gain, big_offset = upsample(gain, size), upsample(offset, size)
    if masked:
        mask = frame_mask(size, look)
        if subject is not None:
            mask = mask * upsample(subject[:, :, None], size)[:, :, 0]
        if scope.hair_only:
            mask = mask * (1.0 - face_core(size, look.hair_core))
        big_gain, big_offset = big_gain * mask[:, :, None], big_offset * mask[:, :, None]
    return FaceChange(frame, view, big_offset, big_gain)


def apply_changes(pixels: np.ndarray, changes: Sequence[FaceChange], in_place: bool = False) -> np.ndarray:
    """The photo's pixels with every frame's change laid in (the photo is never resampled); ``in_place`` changes
    ``pixels`` itself instead of a copy (a 50-megapixel photo is 150 MB)."""
    out = pixels if in_place and pixels.flags.writeable else pixels.copy()
    for change in changes:
        if not change.is_zero:
            paste_change(out, change.frame, change.change, in_place=True, gain=change.gain)
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
    scope = EditScope.of({model.attributes.resolve(k): v for k, v in edits.items()})
    scope = replace(scope, colour=scope.colour and not is_monochrome(photo.pixels))
    # Faces are changed FACES_PER_STEP at a time, so a crowd's changes (up to 12 MB a face) are never all held at
    # once; every face is seen as it was in the photo (views and subject gates made before any face is changed).
    views = np.stack([model_view(photo.pixels, frame, model.resolution) for frame in frames])
    subjects = [subject_gate(photo.pixels, frame, look) for frame in frames]
    last = len(strengths) - 1
    outs = [photo.pixels if in_place and k == last else photo.pixels.copy() for k in range(len(strengths))]
    for start in range(0, len(frames), FACES_PER_STEP):
        step = slice(start, start + FACES_PER_STEP)
        rows = frame_changes(
            model, photo.pixels, frames[step], shift, strengths, look, True, scope, views[step], subjects[step]
        )
        outs = [apply_changes(out, row, in_place=True) for out, row in zip(outs, rows, strict=True)]
    return outs
