"""What ``aaae studio`` does, as plain functions over the Python API (no Gradio here: testable without a browser).

The page (:mod:`aaae_cli.studio.page`) only lays these out and wires them to Gradio's events. Three jobs:

- **Edit a photo live.** :meth:`Studio.open_photo` reads an upload under aaae's limits, finds and aligns every
  face, and encodes each face *once* (:func:`aaae_cli.photos.edit.encode_frames`); the result, a
  :class:`PhotoSession`, is what the page keeps per visitor. :meth:`Studio.render` then costs one decoder call
  per slider move (:func:`aaae_cli.photos.edit.encoded_changes`) and gives the same pixels as
  ``aaae edit --attr NAME=S`` (strengths in the same calibrated photo units).
- **Sample** (:meth:`Studio.sample`) and **interpolate** (:meth:`Studio.interpolate`), as the commands do.
- **Stay safe with a browser on the other end**: uploads are bounded in bytes and pixels before they are decoded
  (a decompression bomb is a :class:`UserError`, shown in the page), nothing the browser sends names a file on
  the server (uploads arrive in Gradio's own cache, downloads are written under the studio's private folder with
  names made here), and models are only those the command line offered.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from aaae_cli.api import Model
from aaae_cli.errors import UserError
from aaae_cli.images import MAX_PIXELS, ImageReadError, make_grid, open_image, save_image, write_gif, zoom
from aaae_cli.photos.align import cut
from aaae_cli.photos.edit import EditScope, EncodedFrames, apply_changes, encode_frames, encoded_changes
from aaae_cli.photos.io import Photo, photo_to_pil, save_photo

SLIDER_LIMIT = 3.0  # sliders run from -3 to 3, in the photo units of 'aaae edit --attr NAME=S'
MAX_UPLOAD_BYTES = 40 << 20  # an upload larger than this is refused before it is read
MAX_UPLOAD_PIXELS = MAX_PIXELS // 2  # 50 megapixels: each visitor's photo stays in memory while they edit it
DISPLAY_SIDE = 2048  # the edited photo is shown at most this large (downloads are always full size)
TILE = 128  # aligned faces are shown at this size
SHOWN_AT_FIRST = 8  # sliders shown before the visitor picks more

# Edits people ask for most (InterFaceGAN's, GANSpace's and e4e's demos; the ones BENCHMARKS.md measures on
# photos), when the model has them; every other attribute follows, the best-separated first.
POPULAR = (
    "Smiling",
    "Male",
    "Young",
    "Eyeglasses",
    "Blond_Hair",
    "Black_Hair",
    "Gray_Hair",
    "Bald",
    "Mustache",
    "No_Beard",
    "Bangs",
    "Heavy_Makeup",
    "Wearing_Hat",
)


def ordered_attributes(model: Model) -> list[str]:
    """The model's attribute names, most useful first: :data:`POPULAR` ones in that order, then the rest by how
    well the direction separates images with and without the attribute (d')."""
    names = list(model.attributes)
    popular = [name for wanted in POPULAR for name in names if name.lower() == wanted.lower()]
    rest = [name for name in names if name not in popular]
    rest.sort(key=lambda name: -_finite(model.attributes[name].separation))
    return popular + rest


def _finite(value: float) -> float:
    return value if np.isfinite(value) else 0.0


def safe_stem(name: str | None, default: str = "photo") -> str:
    """A file-name stem made from a browser-supplied name: letters, digits, ``-``, ``_`` and ``.`` only, at most
    60 characters, never empty or hidden. Only ever used as the name a download is offered under."""
    stem = Path(str(name or "")).name.rsplit(".", 1)[0] if name else ""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")[:60]
    return stem or default


def read_upload(path: str | Path | bytes, name: str | None = None) -> tuple[bytes, str]:
    """The bytes of an uploaded image and a name to show for it, refusing (one-line :class:`UserError`) a file over
    :data:`MAX_UPLOAD_BYTES`, something that is not an image, or one over :data:`MAX_UPLOAD_PIXELS` (read from
    its header, before any pixel is decoded: decompression bombs)."""
    shown = safe_stem(name or (None if isinstance(path, bytes) else Path(path).name), "upload")
    if isinstance(path, bytes):
        data = path
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_UPLOAD_BYTES + 1)
        except OSError:
            raise UserError(f"{shown}: the upload could not be read; try again") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError(f"{shown}: the file is over the {MAX_UPLOAD_BYTES >> 20} MB upload limit")
    if not data:
        raise UserError(f"{shown}: the file is empty")
    try:
        with open_image(data) as img:
            width, height = img.size
    except ImageReadError as exc:
        raise UserError(str(exc).replace("<bytes>", shown)) from None
    if width * height > MAX_UPLOAD_PIXELS:
        raise UserError(
            f"{shown}: image is {width}x{height}, over the studio's {MAX_UPLOAD_PIXELS // 1_000_000} megapixel limit"
        )
    return data, shown


@dataclass
class PhotoSession:
    """One visitor's photo, as kept between slider moves: the photo, its faces encoded once, and where its
    downloads go. Belongs to one model (a new model means a new session)."""

    model: str
    photo: Photo
    encoded: EncodedFrames | None  # None: no face was found (the photo is shown, not edited)
    stem: str  # the name downloads are offered under (made safe)
    folder: Path  # this photo's private folder under the studio's own
    faces: np.ndarray | None = None  # uint8 (TILE, n * TILE, C): the aligned faces, for the page
    message: str = ""
    renders: int = 0  # how many edits were rendered: a download is offered only for the latest

    @property
    def face_count(self) -> int:
        return 0 if self.encoded is None else len(self.encoded.frames)


@dataclass
class Rendered:
    """An edit of a :class:`PhotoSession`: the image to show (at most :data:`DISPLAY_SIDE`), the full-size
    photo to download, and a line saying what was done."""

    shown: Image.Image
    full: Image.Image
    message: str
    edits: dict[str, float] = field(default_factory=dict)
    serial: int = 0  # which of its session's renders this is (see :meth:`Studio.is_latest`)


class Studio:
    """The studio's state that every visitor shares: the models on offer (loaded on first use) and a private
    folder for downloads (removed by :meth:`close`)."""

    def __init__(self, models: Sequence[str | None] = (None,), device: str = "auto") -> None:
        from aaae_cli.bundle.locate import builtin_models, default_model

        given = [default_model() if spec is None else str(spec) for spec in (models or [None])]
        self.choices: list[str] = list(dict.fromkeys([*given, *builtin_models()]))
        self.device = device
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()
        self.folder = Path(tempfile.mkdtemp(prefix="aaae-studio-"))
        for spec in given:  # a bad --model is one 'error:' line before the server starts
            self.model(spec)

    @property
    def default(self) -> str:
        return self.choices[0]

    def model(self, name: str | None) -> Model:
        """One of the models on offer, loaded once; anything else is refused (the browser names no model)."""
        name = name or self.default
        if name not in self.choices:
            raise UserError(f"{name!r} is not one of this studio's models ({', '.join(self.choices)})")
        with self._lock:
            if name not in self._models:
                model = Model.load(name, device=self.device)
                model.graph("encoder")
                model.graph("decoder")
                self._models[name] = model
            return self._models[name]

    def slider_count(self) -> int:
        """Sliders the page needs: the most attributes of any model loaded so far (the others on first use)."""
        return max((len(m.attributes) for m in self._models.values()), default=0)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ edit

    def open_photo(self, model_name: str | None, upload: str | Path | bytes, name: str | None = None) -> PhotoSession:
        """Read an upload, find and align its faces, encode each once. A photo without a face is no error: it is
        kept (and said so) so that the visitor sees why nothing changes."""
        model = self.model(model_name)
        data, stem = read_upload(upload, name)
        photo = model.load_photo(data)
        photo.name = stem
        folder = self.folder / secrets.token_hex(8)
        folder.mkdir()
        session = PhotoSession(model_name or self.default, photo, None, stem, folder)
        width, height = photo.size
        try:
            frames, skipped = model.face_plan(photo)
        except UserError as exc:
            session.message = f"{width}x{height}: {str(exc).removeprefix(stem + ': ')}; nothing to edit"
            return session
        if not frames:
            why = ", ".join(dict.fromkeys(reason for _, reason in skipped))
            session.message = f"{width}x{height}: {len(skipped)} face(s) found, all skipped ({why}); nothing to edit"
            return session
        session.encoded = encode_frames(model, photo.pixels, frames)
        if model.aligns_faces and not photo.framed:
            session.faces = make_grid(np.stack([cut(photo.pixels, f, TILE) for f in frames]), padding=0)
            found = f"{len(frames)} face" + ("s" if len(frames) != 1 else "") + " found and aligned"
            if skipped:
                reasons = ", ".join(dict.fromkeys(reason for _, reason in skipped))
                found += f", {len(skipped)} skipped ({reasons})"
        else:
            found = "the image is centre-cropped (this model does not align faces)"
        session.message = f"{width}x{height}: {found}"
        return session

    def render(
        self,
        session: PhotoSession,
        edits: Mapping[str, float],
        keep: Sequence[str] = (),
        faces: Sequence[int] | None = None,
    ) -> Rendered:
        """The photo with ``edits`` ({name: strength}, photo units; zeros ignored) on the faces numbered ``faces``
        (1 = leftmost; ``None``: all), holding ``keep``'s attributes. One decoder call; the photo's own pixels
        (never resampled) everywhere else. A kept attribute that is also being edited is not held (said so)."""
        session.renders += 1  # first: a download step still writing an older edit sees that it is old
        serial = session.renders
        model = self.model(session.model)
        chosen = {model.attributes.resolve(k): float(v) for k, v in edits.items() if v}
        if not all(np.isfinite(v) and abs(v) <= SLIDER_LIMIT for v in chosen.values()):
            raise UserError(f"strengths run from {-SLIDER_LIMIT:g} to {SLIDER_LIMIT:g}")
        kept = list(dict.fromkeys(model.attributes.resolve(k) for k in keep))  # "keeping Male, Male" (issue 23)
        dropped = [k for k in kept if k in chosen]
        kept = [k for k in kept if k not in chosen]
        notes = [f"{', '.join(dropped)} is being edited, so not kept"] if dropped else []
        encoded = session.encoded
        pixels = session.photo.pixels
        if encoded is not None and chosen:
            if faces is not None:
                bad = [n for n in faces if not 1 <= n <= len(encoded.frames)]
                if bad:
                    raise UserError(f"face {bad[0]}: only {len(encoded.frames)} found")
                picked = [n - 1 for n in faces]
                encoded = replace(
                    encoded,
                    frames=[encoded.frames[i] for i in picked],
                    views=encoded.views[picked],
                    codes=encoded.codes[picked],
                    base=encoded.base[picked],
                    covers=[encoded.covers[i] for i in picked] if encoded.covers else None,
                    subjects=[encoded.subjects[i] for i in picked] if encoded.subjects else None,
                )
            if encoded.frames:
                shift = model.attributes.shift(chosen, keep=kept, photo=True)
                scope = EditScope.of(chosen)
                pixels = apply_changes(pixels, encoded_changes(model, encoded, shift, scope=scope))
        full = photo_to_pil(session.photo, pixels)
        what = ", ".join(f"{k} {v:+g}" for k, v in chosen.items()) or "no change"
        held = f", keeping {', '.join(kept)}" if kept and chosen else ""
        where = "" if session.encoded is not None else " (no face to edit)"
        message = f"{session.stem}: {what}{held}{where}" + "".join(f"; {n}" for n in notes)
        return Rendered(_for_display(pixels), full, message, chosen, serial)

    @staticmethod
    def is_latest(session: PhotoSession, rendered: Rendered) -> bool:
        """Whether ``rendered`` is still the session's latest edit (a slower step must not offer an older one)."""
        return rendered.serial == session.renders

    def save_edited(self, session: PhotoSession, rendered: Rendered) -> Path:
        """The full-size edit as a file to download, in the photo's own format (PNG for formats aaae does not
        write), under the session's private folder; it replaces the session's previous one."""
        suffix = {"JPEG": ".jpg", "WEBP": ".webp"}.get(session.photo.format or "", ".png")
        target = session.folder / f"{session.stem}-edited{suffix}"
        save_photo(rendered.full, target, session.photo)
        return target

    # ------------------------------------------------------------------ sample and interpolate

    def sample(self, model_name: str | None, seed: int, temperature: float, count: int) -> tuple[np.ndarray, Path]:
        """A grid of ``count`` samples (enlarged to about 128 px each, crisp), and the same grid as a PNG file."""
        model = self.model(model_name)
        if not 1 <= int(count) <= 256:
            raise UserError(f"count must be between 1 and 256 (got {count})")
        if not 0 <= float(temperature) <= 3:
            raise UserError(f"temperature must be between 0 and 3 (got {temperature})")
        images = model.sample(int(count), seed=int(seed), temperature=float(temperature))
        grid = make_grid(zoom(images, max(1, 128 // model.resolution)))
        folder = self._fresh_folder()
        path = folder / f"samples-seed{int(seed)}.png"
        save_image(grid, path)
        return grid, path

    def interpolate(
        self,
        model_name: str | None,
        a: str | Path | bytes,
        b: str | Path | bytes,
        steps: int,
        names: tuple[str | None, str | None] = (None, None),
    ) -> tuple[np.ndarray, Path]:
        """Frames from photo ``a``'s face to ``b``'s (uint8 (steps, S, S, C), enlarged to about 256 px) and a
        looping GIF of them; the ends refined as ``aaae interpolate`` refines them (face models)."""
        model = self.model(model_name)
        if not 2 <= int(steps) <= 64:
            raise UserError(f"steps must be between 2 and 64 (got {steps})")
        ends = []
        for upload, name in zip((a, b), names, strict=True):
            data, stem = read_upload(upload, name)
            try:
                ends.append(model.prepare(data))
            except UserError as exc:
                raise UserError(str(exc).replace("<bytes>", stem)) from None
        morph = model.interpolate(ends[0], ends[1], int(steps), refine=model.default_refine)  # as aaae interpolate
        frames = zoom(morph, max(1, 256 // model.resolution))
        path = self._fresh_folder() / "morph.gif"
        write_gif(list(frames), path, duration_ms=100)
        return frames, path

    def _fresh_folder(self) -> Path:
        folder = self.folder / secrets.token_hex(8)
        folder.mkdir()
        return folder


def _for_display(pixels: np.ndarray) -> Image.Image:
    """The photo's pixels as an RGB (or L) image for the page, reduced by a whole factor to at most
    :data:`DISPLAY_SIDE` (a 1-megapixel photo is shown as it is)."""
    img = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    factor = -(-max(img.size) // DISPLAY_SIDE)
    return img.reduce(factor) if factor > 1 else img


__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS",
    "SLIDER_LIMIT",
    "PhotoSession",
    "Rendered",
    "Studio",
    "ordered_attributes",
    "read_upload",
    "safe_stem",
]
