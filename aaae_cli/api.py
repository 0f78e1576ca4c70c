"""The Python API of the runtime: load a model, then sample, encode, decode, reconstruct, interpolate, edit.

    import aaae_cli as aaae

    model = aaae.load("user/faces@v1")            # a built-in name, a bundle folder or a Hub id
    grid = model.sample(16, seed=0)               # uint8 (16, R, R, C)
    codes = model.encode(["a.jpg", "b.jpg"])      # float32 (2, c); any image size, mode or EXIF rotation
    frames = model.interpolate("a.jpg", "b.jpg", steps=8)
    older = model.edit("face.jpg", {"Male": 1.5}) # uint8 (R, R, C): the model's own view
    photo = model.edit_photo("me.jpg", {"Smiling": 1}, keep=["Male"])  # PIL image, the photo's size
    model.attributes["smiling"].positive          # names match case-insensitively

Images go in as file paths, encoded bytes, PIL images or uint8 arrays (HWC, or NHWC for a batch) and are
prepared exactly as the model's training data were: face models (those with a landmark template) find the
face and align it to the template; other models take the square centre crop; then a Lanczos resize.
Images come out as uint8 NHWC arrays (:func:`aaae_cli.images.to_pil` turns one into a PIL image).
Everything runs on onnxruntime: no torch.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageOps

from aaae_cli.bundle.attributes import AttributeSet
from aaae_cli.bundle.folder import Bundle
from aaae_cli.bundle.locate import open_model
from aaae_cli.errors import UserError
from aaae_cli.images import check_image_array, load_image, prepare_pil, to_model_input, to_pil, to_uint8
from aaae_cli.photos.align import Frame, centre_frame, face_frame
from aaae_cli.photos.detect import DETECT_SIDE, MIN_EYE_DISTANCE, Face, find_faces
from aaae_cli.photos.edit import edit_pixels, model_view
from aaae_cli.photos.io import Photo, load_photo, photo_to_pil
from aaae_cli.refine import DEFAULT_STEPS, face_weights, refine_codes
from aaae_cli.runtime import Graph, check_device, default_threads
from aaae_cli.utils.checks import check_seed

ALIGN_MODES = ("auto", "face", "none")

# A face whose frame the model reconstructs worse than this (RMS grey levels over its middle; 99% of the dev photos'
# faces: 24) may be upside down; the half-turned photo's face is taken when reconstructed this much better.
UPSIDE_DOWN_SUSPECT = 26.0
# A photo searched turned must show a face this large (eye distance, share of its shorter side): a turned photo is
# a portrait someone forgot to turn, and in the dev photos the only face "found" this way below it was a pattern in a
# photo of dogs (1.8%; the two portraits turned: 8% and 17%).
TURNED_MIN_EYES = 0.025
# ... and found with this confidence (the two portraits turned: 0.985-1.0; patterns in the dogs photo: 0.81, 0.925).
TURNED_MIN_SCORE = 0.95
UPSIDE_DOWN_MARGIN = 1.0
# The neighbourhood of a suspect face (3 times its box) is searched half-turned on a copy of at most this many pixels.
NEIGHBOURHOOD = 320

# From this many images on, the encoder runs in a session optimised for throughput (slower to create).
BULK = 16

ImageLike = str | os.PathLike | bytes | Image.Image | np.ndarray
ImagesLike = ImageLike | Sequence[ImageLike]


class EditedPhoto(NamedTuple):
    """A photo edit's result: the image, the number of faces (frames) edited, and the faces skipped as
    (face number, reason) (:mod:`aaae_cli.photos.checks`)."""

    image: Image.Image
    edited: int
    skipped: list[tuple[int, str]]

    def summary(self) -> str:
        """``2 faces edited, 1 skipped (turned away)``."""
        from aaae_cli.photos.checks import summary

        return summary(self.edited, [reason for _, reason in self.skipped])


def load(model: str | os.PathLike[str] | None = None, device: str = "auto", threads: int | None = None) -> Model:
    """Load a model by built-in name, bundle folder or Hub id (``user/name@revision``); see :class:`Model`."""
    return Model.load(model, device=device, threads=threads)


class Model:
    """An exported AAAE model (a bundle) on onnxruntime. Graphs are loaded on first use."""

    def __init__(self, bundle: Bundle, device: str = "auto", threads: int | None = None) -> None:
        self.bundle = bundle
        self.device = check_device(device)
        self.threads = threads if threads is not None else default_threads()
        self._graphs: dict[str, Graph] = {}
        self._attributes: AttributeSet | None = None
        self.crop: float = bundle.config.crop
        """Centre crop applied to input images, as a fraction of their shorter side (the model's training
        crop; set 1.0 for photos already cropped to the subject as the model's images are)."""
        self.align: str = "auto"
        """How photos are framed: ``auto`` (find the face and align it to the model's landmark template when the
        model has one, else the centre crop), ``face`` (always align; an error without a template) or ``none``
        (the centre crop: the image is already framed like the training data)."""
        self.face: int | None = None
        """Which face of a photo single-image operations use: 1 = leftmost; ``None``: the largest."""

    @classmethod
    def load(
        cls, model: str | os.PathLike[str] | None = None, device: str = "auto", threads: int | None = None
    ) -> Model:
        """Open a model: a built-in name, a bundle folder, or a Hub id; ``None``: the default model.

        ``device``: ``auto`` (CUDA when onnxruntime can use it, else CPU), ``cpu`` or ``cuda``.
        """
        return cls(open_model(model), device=device, threads=threads)

    # ------------------------------------------------------------------ what the model is

    @property
    def name(self) -> str:
        return self.bundle.name

    @property
    def path(self) -> Path:
        return self.bundle.path

    @property
    def config(self) -> dict[str, Any]:
        """The bundle's ``config.json`` (sizes, preprocessing, training data, metrics)."""
        return self.bundle.config.to_dict()

    @property
    def resolution(self) -> int:
        return self.bundle.config.resolution

    @property
    def channels(self) -> int:
        return self.bundle.config.channels

    @property
    def z_dim(self) -> int:
        return self.bundle.config.z_dim

    @property
    def c_dim(self) -> int:
        return self.bundle.config.c_dim

    @property
    def batch_size(self) -> int:
        """Images per onnxruntime call: 256 at 32x32, 64 at 64x64, 16 at 128x128 (bounded memory)."""
        return max(1, (64 * 64 * 64) // (self.resolution * self.resolution))

    @property
    def attributes(self) -> AttributeSet:
        """Named edit directions (empty when the bundle has none)."""
        if self._attributes is None:
            self._attributes = self.bundle.read_attributes()
        return self._attributes

    @property
    def providers(self) -> list[str]:
        """onnxruntime providers of the graphs loaded so far (e.g. ``["CPUExecutionProvider"]``)."""
        for graph in self._graphs.values():
            return graph.providers
        return []

    def graph(self, name: str, bulk: bool = False) -> Graph:
        """The ``encoder``, ``decoder`` or ``approximator`` session (checksum verified, then created).

        The encoder's session is made for a few images unless ``bulk`` (see :data:`BULK`); a bulk request
        replaces it with one optimised for throughput.
        """
        optimize = "extended" if name == "encoder" and not bulk else "all"
        graph = self._graphs.get(name)
        if graph is None or (bulk and graph.optimize != "all"):
            data = self.bundle.graph_bytes(name)
            graph = Graph(f"{self.bundle.source}: {name}", data, self.device, self.threads, optimize)
            self._check_shapes(name, graph)
            self._graphs[name] = graph
        return graph

    def _check_shapes(self, name: str, graph: Graph) -> None:
        r, c = self.resolution, self.channels
        expected = {
            "encoder": ([None, c, r, r], [None, self.c_dim]),
            "decoder": ([None, self.c_dim], [None, c, r, r]),
            "approximator": ([None, self.z_dim], [None, self.c_dim]),
        }[name]
        for want, got, what in ((expected[0], graph.input_shape, "input"), (expected[1], graph.output_shape, "output")):
            fixed = [g if isinstance(g, int) else None for g in got]
            if len(fixed) != len(want) or any(
                w is not None and f is not None and w != f for w, f in zip(want, fixed, strict=True)
            ):
                raise UserError(
                    f"{self.bundle.source}: {name} {what} shape {got} does not match config.json (expected {want}); "
                    "the bundle mixes files from different models"
                )

    # ------------------------------------------------------------------ photos and faces

    @property
    def landmark_template(self) -> np.ndarray | None:
        """Mean landmarks (5, 2) of the training faces in the model's frame (0..1), or ``None``."""
        return self.bundle.config.landmark_template

    @property
    def aligns_faces(self) -> bool:
        """Whether photos are framed by finding and aligning faces (see :attr:`align`)."""
        if self.align not in ALIGN_MODES:
            raise UserError(f"--align {self.align!r}: use auto, face or none")
        if self.align == "face" and self.landmark_template is None:
            raise UserError(
                f"{self.name} has no landmark template (its training images were not faces); use --align none"
            )
        return self.align != "none" and self.landmark_template is not None

    def load_photo(self, image: ImageLike) -> Photo:
        """A photo as shown (EXIF rotation applied), in the model's channels, with what is needed to save it alike."""
        return load_photo(image, self.channels)

    def find_faces(self, image: ImageLike | Photo) -> list[Face]:
        """Every face in a photo with its five landmarks, numbered left to right (``--face 1`` is the leftmost).
        A photo turned by a quarter or half turn without an EXIF tag saying so is searched turned back when no
        face is found upright (or only landmarks no upright face fits): its faces are then aligned upright."""
        photo = image if isinstance(image, Photo) else self.load_photo(image)
        pixels = photo.pixels if photo.pixels.shape[2] == 3 else np.repeat(photo.pixels, 3, axis=2)
        faces = find_faces(pixels)
        template = self.landmark_template
        if template is not None and not any(_plausible(pixels, f, template) for f in faces):
            # Each turn may "find" the face lying on its side too; the turn whose largest face the model draws
            # best is the one that holds it upright.
            best = UPSIDE_DOWN_SUSPECT * 4
            for turns in (1, 2, 3):
                found = self._faces_turned(pixels, turns)
                plausible = [
                    f
                    for f in found
                    if _plausible(pixels, f, template)
                    and f.score >= TURNED_MIN_SCORE
                    and f.eye_distance >= TURNED_MIN_EYES * min(pixels.shape[:2])
                ]
                if plausible:
                    error = self._frame_errors(pixels, [max(plausible, key=lambda f: f.eye_distance)], template)[0]
                    if error < best:
                        faces, best = found, error
        elif template is not None:
            faces = self._upright(pixels, faces, template)
        return sorted(faces, key=lambda f: f.box[0])

    def _faces_turned(self, pixels: np.ndarray, turns: int, side: int = DETECT_SIDE) -> list[Face]:
        """The faces of ``pixels`` turned by ``turns`` quarter turns, in the coordinates of ``pixels``, searched on a
        copy of at most about ``side`` pixels."""
        height, width = pixels.shape[:2]
        factor = max(1, int(np.ceil(max(height, width) / side)))
        small = pixels if factor == 1 else np.asarray(Image.fromarray(pixels).reduce(factor))
        turned = find_faces(np.ascontiguousarray(np.rot90(small, turns)))
        scale = np.array([width / small.shape[1], height / small.shape[0]])
        found = [_turned_back(f, turns, small.shape[1], small.shape[0]) for f in turned]
        return [
            Face(tuple(float(v) for v in (np.array(f.box).reshape(2, 2) * scale).ravel()), f.score, f.landmarks * scale)  # type: ignore[arg-type]
            for f in found
        ]

    def _upright(self, pixels: np.ndarray, faces: list[Face], template: np.ndarray) -> list[Face]:
        """``faces`` with any upside-down face replaced by the same face found in the photo turned by a half turn.

        MTCNN finds an upside-down face as an upright one, reading the eyes as eyes and the forehead as a mouth
        (a face lying on its side is not found upright at all: :meth:`find_faces` turns the photo then). Such a
        frame is one the model cannot draw; so when a face's frame is drawn badly (reconstruction error above
        :data:`UPSIDE_DOWN_SUSPECT` grey levels), the half-turned photo is searched too and, where it holds the
        same face, found at least as confidently and drawn better (by :data:`UPSIDE_DOWN_MARGIN`), its landmarks
        are taken (on the two portraits the detector is surer of the upright reading either way: 1.0 against
        0.9991 and 0.9995)."""
        result = list(faces)
        errors = self._frame_errors(pixels, faces, template)  # one encoder and decoder call for every face
        for i, (face, error) in enumerate(zip(faces, errors, strict=True)):
            if error <= UPSIDE_DOWN_SUSPECT:
                continue
            # The half-turned neighbourhood of this face only (a few hundred pixels: cheap to search).
            x0, y0, x1, y1 = face.box
            side = max(x1 - x0, y1 - y0)
            left, top = max(0, int(x0 - side)), max(0, int(y0 - side))
            right, bottom = min(pixels.shape[1], int(x1 + side) + 1), min(pixels.shape[0], int(y1 + side) + 1)
            shift = np.array([left, top], dtype=np.float64)
            centre = face.landmarks.mean(0)
            for twin in self._faces_turned(np.ascontiguousarray(pixels[top:bottom, left:right]), 2, NEIGHBOURHOOD):
                twin = Face(
                    (twin.box[0] + left, twin.box[1] + top, twin.box[2] + left, twin.box[3] + top),
                    twin.score,
                    twin.landmarks + shift,
                )
                near = np.linalg.norm(twin.landmarks.mean(0) - centre) < max(face.eye_distance, 1.0)
                # The detector must be at least as sure of the twin, and the model must draw it better.
                if near and twin.eye_distance >= MIN_EYE_DISTANCE and twin.score >= face.score:
                    twin_error = self._frame_errors(pixels, [twin], template)[0]
                    if twin_error < error - UPSIDE_DOWN_MARGIN:
                        result[i], error = twin, twin_error
        return result

    def _frame_errors(self, pixels: np.ndarray, faces: Sequence[Face], template: np.ndarray) -> list[float]:
        """RMS error (grey levels) of the model's reconstruction over the middle of each face's frame."""
        if not faces:
            return []
        r = self.resolution
        seen = pixels if self.channels == 3 else pixels[:, :, :1]
        views = np.stack([model_view(seen, face_frame(face, template), r) for face in faces])
        drawn = self.decode(self.encode(views)).astype(np.float32)
        m = r // 8
        return [float(np.sqrt(e)) for e in ((drawn - views)[:, m:-m, m:-m] ** 2).mean(axis=(1, 2, 3))]

    def face_plan(
        self, photo: Photo, face: int | None = None, all_faces: bool = False
    ) -> tuple[list[Frame], list[tuple[int, str]]]:
        """The frames to edit in ``photo`` and the faces skipped, as (face number, reason) (see
        :mod:`aaae_cli.photos.checks`): face number ``face`` only (whatever the checks say), every face found with
        ``all_faces``, else every face the model can edit well. Models that do not align faces: the centre crop."""
        face = self.face if face is None else face
        if face is not None or all_faces or photo.framed or not self.aligns_faces:
            return self.frames(photo, every=face is None, face=face), []
        from aaae_cli.photos.checks import skip_reasons

        faces = self._found_faces(photo)
        pixels = photo.pixels if photo.pixels.shape[2] == 3 else np.repeat(photo.pixels, 3, axis=2)
        template = self.landmark_template
        assert template is not None
        usable = [f for f in faces if f.eye_distance >= MIN_EYE_DISTANCE]
        if not usable:
            return self.frames(photo, every=True), []  # says that the faces are too small to align
        reasons = dict(zip(map(id, usable), skip_reasons(pixels, usable, template), strict=True))
        skipped = [
            (number, "too small" if f.eye_distance < MIN_EYE_DISTANCE else str(reasons[id(f)]))
            for number, f in enumerate(faces, 1)
            if f.eye_distance < MIN_EYE_DISTANCE or reasons[id(f)] is not None
        ]
        kept = [face_frame(f, template) for f in usable if reasons[id(f)] is None]
        return kept, skipped

    def frames(self, photo: Photo, every: bool = False, face: int | None = None) -> list[Frame]:
        """Where the model's frame lies in ``photo``: one per face (all with ``every``, else :attr:`face`, else the
        largest), or the centre crop for models without a landmark template, ``--align none`` and images aaae
        wrote itself. :class:`UserError` when no face is found or the chosen one does not exist."""
        width, height = photo.size
        face = self.face if face is None else face
        if photo.framed or not self.aligns_faces:
            if face is not None and face != 1:
                raise UserError(f"{photo.name}: --face {face}: this image is not searched for faces (--align none)")
            return [centre_frame(width, height, 1.0 if photo.framed else self.crop)]
        faces = self._found_faces(photo)
        if face is not None:
            if not 1 <= face <= len(faces):
                found = f"{len(faces)} face" + ("s" if len(faces) > 1 else "")
                raise UserError(f"{photo.name}: --face {face}: only {found} found (numbered 1 = leftmost)")
            faces = [faces[face - 1]]
        elif not every:
            faces = [max(faces, key=lambda f: f.eye_distance)]
        small = [f for f in faces if f.eye_distance < MIN_EYE_DISTANCE]
        if small and len(small) == len(faces):
            raise UserError(
                f"{photo.name}: the face is too small to align (eyes {small[0].eye_distance:.0f} px apart; "
                f"at least {MIN_EYE_DISTANCE} needed)"
            )
        template = self.landmark_template
        assert template is not None
        return [face_frame(f, template) for f in faces if f.eye_distance >= MIN_EYE_DISTANCE]

    def _found_faces(self, photo: Photo) -> list[Face]:
        """:meth:`find_faces`, or :class:`UserError` when there is none."""
        faces = self.find_faces(photo)
        if not faces:
            raise UserError(
                f"{photo.name}: no face found; if the image is already cropped like the model's training images, "
                "pass --align none"
            )
        return faces

    def edit_photo(
        self,
        image: ImageLike,
        edits: Mapping[str, float],
        strength: float = 1.0,
        keep: Sequence[str] = (),
        face: int | None = None,
        all_faces: bool = False,
    ) -> Image.Image:
        """``image`` edited at its own resolution: every face the model can edit well (every face found with
        ``all_faces``; face number ``face`` only, 1 = leftmost) gets the attributes ``edits`` (``{"Male": 1,
        "Smiling": -1}``, times ``strength``) while ``keep``'s attributes are held; pixels away from the faces are
        unchanged. Returns a PIL image of the photo's size (:meth:`edit_loaded_photo` also says what was skipped)."""
        return self.edit_loaded_photo(self.load_photo(image), edits, strength, keep, face, all_faces).image

    def edit_loaded_photo(
        self,
        photo: Photo,
        edits: Mapping[str, float],
        strength: float = 1.0,
        keep: Sequence[str] = (),
        face: int | None = None,
        all_faces: bool = False,
    ) -> EditedPhoto:
        """:meth:`edit_photo` of a photo read with :meth:`load_photo`, whose pixels it edits in place (no second
        copy of a large photo): the edited image, how many faces (frames) were edited and which were skipped."""
        frames, skipped = self.face_plan(photo, face, all_faces)
        pixels = edit_pixels(self, photo, frames, edits, [strength], keep, in_place=True)[0]
        return EditedPhoto(photo_to_pil(photo, pixels, in_place=True), len(frames), skipped)

    # ------------------------------------------------------------------ images in

    def prepare(self, image: ImageLike) -> np.ndarray:
        """One image as the model's training data were prepared: uint8 (R, R, C). Face models find the face
        and align it as their training faces were (see :attr:`align`)."""
        r, c, crop = self.resolution, self.channels, self.crop
        if self.aligns_faces and not (isinstance(image, np.ndarray) and image.shape == (r, r, c)):
            photo = self.load_photo(image)
            return model_view(photo.pixels, self.frames(photo)[0], r)
        if isinstance(image, (str, os.PathLike, bytes)):
            return load_image(image if isinstance(image, bytes) else Path(image).expanduser(), r, c, crop)
        if isinstance(image, Image.Image):
            return prepare_pil(ImageOps.exif_transpose(image), r, c, crop)
        array = check_image_array(image)
        if array.shape == (r, r, c):
            return array
        pil = Image.fromarray(array, "RGBA") if array.shape[2] == 4 else to_pil(array)
        return prepare_pil(pil, r, c, crop)

    def prepare_batch(self, images: ImagesLike) -> np.ndarray:
        """Several images (a list, or an NHWC uint8 array) as a uint8 (N, R, R, C) batch."""
        if isinstance(images, np.ndarray) and images.ndim == 4:
            return np.stack([self.prepare(image) for image in images])
        if isinstance(images, (str, os.PathLike, bytes, Image.Image, np.ndarray)):
            return self.prepare(images)[None]
        items = list(images)
        if not items:
            raise UserError("no images given")
        return np.stack([self.prepare(image) for image in items])

    # ------------------------------------------------------------------ the model's operations

    def sample_codes(self, n: int, seed: int | None = None, temperature: float = 1.0) -> np.ndarray:
        """Codes of ``n`` new images: the approximator applied to z ~ N(0, temperature^2 I)."""
        return np.concatenate(list(self._iter_codes(n, seed, temperature)))

    def iter_samples(
        self, n: int, seed: int | None = None, temperature: float = 1.0, batch_size: int | None = None
    ) -> Iterator[np.ndarray]:
        """:meth:`sample` in batches (uint8 NHWC each), for any ``n`` in bounded memory.

        The i-th image depends only on ``seed`` and i, not on ``n`` or the batch size.
        """
        for codes in self._iter_codes(n, seed, temperature, batch_size):
            yield self.decode(codes)

    def sample(self, n: int, seed: int | None = None, temperature: float = 1.0) -> np.ndarray:
        """``n`` new images, uint8 (n, R, R, C). ``seed`` makes them reproducible; ``temperature``
        scales the noise (below 1: more typical images, above 1: more varied)."""
        return np.concatenate(list(self.iter_samples(n, seed, temperature)))

    def _iter_codes(
        self, n: int, seed: int | None, temperature: float, batch_size: int | None = None
    ) -> Iterator[np.ndarray]:
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise UserError(f"the number of samples must be at least 1 (got {n})")
        if not np.isfinite(temperature) or temperature < 0:
            raise UserError(f"temperature must be a non-negative number (got {temperature})")
        rng = np.random.default_rng(secrets.randbits(64) if seed is None else check_seed(seed, "seed"))
        approximator = self.graph("approximator")
        step = batch_size or self.batch_size
        for start in range(0, int(n), step):
            z = rng.standard_normal((min(step, int(n) - start), self.z_dim), dtype=np.float32)
            yield approximator.run(z * np.float32(temperature), step)

    @property
    def default_refine(self) -> int:
        """Refinement steps ``aaae reconstruct`` and ``interpolate`` take unless told: 6 for a face model (one with a
        landmark template; it keeps more held-out faces the same person: BENCHMARKS.md, "The faces model"), else 0."""
        return DEFAULT_STEPS if self.landmark_template is not None else 0

    def encode(self, images: ImagesLike, refine: int = 0) -> np.ndarray:
        """Codes of real images, float32 (N, c). ``refine``: that many Gauss-Newton steps on each code first,
        bringing its decoding closer to the image (:mod:`aaae_cli.refine`; a face model weighs the face above hair
        and background; its cost and gain in likeness: BENCHMARKS.md, "The faces model").
        Edits keep the encoder's own code: their directions were measured on such codes."""
        batch = self.prepare_batch(images)
        codes = self._encode_prepared(batch)
        if refine > 0:  # targets in the decoder's range and layout (decode_float's NHWC)
            targets = to_model_input(batch).transpose(0, 2, 3, 1)
            template = self.landmark_template
            weights = None if template is None else face_weights(template, self.resolution)[:, :, None]
            codes = refine_codes(self.decode_float, codes, targets, refine, weights=weights)
        return codes

    def _encode_prepared(self, batch: np.ndarray) -> np.ndarray:
        """Codes of images already prepared as the model's input (uint8 NHWC at its resolution)."""
        return self.graph("encoder", bulk=len(batch) >= BULK).run(to_model_input(batch), self.batch_size)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Images of codes (N, c) (or one code (c,)), uint8 (N, R, R, C)."""
        return np.concatenate([to_uint8(part) for part in self._decoded(codes)])

    def decode_float(self, codes: np.ndarray) -> np.ndarray:
        """The decoder's raw output for codes (N, c): float32 (N, R, R, C) in [-1, 1] (no rounding)."""
        return np.concatenate(list(self._decoded(codes))).transpose(0, 2, 3, 1)

    def _decoded(self, codes: np.ndarray) -> Iterator[np.ndarray]:
        """The decoder's output (NCHW float) a batch at a time, for checked codes."""
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim == 1:
            codes = codes[None]
        if codes.ndim != 2 or codes.shape[1] != self.c_dim or codes.shape[0] == 0:
            raise UserError(f"codes must have shape (N, {self.c_dim}), not {codes.shape}")
        if not np.all(np.isfinite(codes)):
            raise UserError("codes contain NaN or infinite values")
        return self.graph("decoder").run_batches(codes, self.batch_size)

    def reconstruct(self, images: ImagesLike, refine: int = 0) -> np.ndarray:
        """Decode(encode(images)): uint8 (N, R, R, C). ``refine``: as :meth:`encode`'s, closer to the images."""
        return self.decode(self.encode(images, refine=refine))

    def interpolate(self, a: ImageLike, b: ImageLike, steps: int = 8, refine: int = 0) -> np.ndarray:
        """``steps`` images along the straight line between the codes of ``a`` and ``b`` (the first and
        last are their reconstructions): uint8 (steps, R, R, C). ``refine``: as :meth:`encode`'s, for the ends."""
        if steps < 2:
            raise UserError(f"--steps must be at least 2 (got {steps})")
        codes = self.encode([a, b], refine=refine)
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return self.decode((1 - t) * codes[0] + t * codes[1])

    def edit(self, image: ImageLike, edits: Mapping[str, float]) -> np.ndarray:
        """``image`` with attributes added (positive strength) or removed (negative), e.g.
        ``{"Male": 1.5, "Smiling": -1}``: its code plus ``strength * scale * direction`` for each; uint8 (R, R, C)."""
        return self.edit_sweep(image, edits, [1.0])[0]

    def edit_sweep(self, image: ImageLike, edits: Mapping[str, float], strengths: Sequence[float]) -> np.ndarray:
        """The edit at several multiples of ``edits`` (e.g. ``[-2, -1, 0, 1, 2]``): uint8 (k, R, R, C)."""
        shift = self.attributes.shift(edits)
        code = self.encode(image)[0]
        factors = np.asarray(strengths, dtype=np.float32)[:, None]
        return self.decode(code[None] + factors * shift[None])

    def __repr__(self) -> str:
        return (
            f"Model({self.bundle.source!r}: {self.resolution}x{self.resolution}x{self.channels}, "
            f"z={self.z_dim}, c={self.c_dim}, {len(self.attributes)} attributes)"
        )


def _plausible(pixels: np.ndarray, face: Face, template: np.ndarray) -> bool:
    """Whether a face's landmarks fit a face's geometry upright enough to align (see :mod:`aaae_cli.photos.checks`)."""
    from aaae_cli.photos.checks import MAX_RESIDUAL, measure_face

    return face.eye_distance >= MIN_EYE_DISTANCE and measure_face(pixels, face, template).residual <= MAX_RESIDUAL


def _turned_back(face: Face, turns: int, width: int, height: int) -> Face:
    """A face found in ``np.rot90(photo, turns)`` in the coordinates of ``photo`` (``width`` x ``height``)."""

    def back(points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        if turns == 1:
            return np.stack([width - y, x], axis=1)
        if turns == 2:
            return np.stack([width - x, height - y], axis=1)
        return np.stack([y, height - x], axis=1)

    x0, y0, x1, y1 = face.box
    corners = back(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64))
    box = (*corners.min(0).tolist(), *corners.max(0).tolist())
    return Face((float(box[0]), float(box[1]), float(box[2]), float(box[3])), face.score, back(face.landmarks))
