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
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from aaae_cli.align import Frame, centre_frame, face_frame
from aaae_cli.attributes import AttributeSet
from aaae_cli.bundle import Bundle
from aaae_cli.checks import check_seed
from aaae_cli.errors import UserError
from aaae_cli.faces import MIN_EYE_DISTANCE, Face, find_faces
from aaae_cli.images import check_image_array, load_image, prepare_pil, to_model_input, to_pil, to_uint8
from aaae_cli.locate import open_model
from aaae_cli.photo_edit import edit_pixels, model_view
from aaae_cli.photos import Photo, load_photo, photo_to_pil
from aaae_cli.refine import DEFAULT_STEPS, face_weights, refine_codes
from aaae_cli.runtime import Graph, check_device, default_threads

ALIGN_MODES = ("auto", "face", "none")

# From this many images on, the encoder runs in a session optimised for throughput (slower to create).
BULK = 16

ImageLike = str | os.PathLike | bytes | Image.Image | np.ndarray
ImagesLike = ImageLike | Sequence[ImageLike]


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
        """Every face in a photo with its five landmarks, numbered left to right (``--face 1`` is the leftmost)."""
        photo = image if isinstance(image, Photo) else self.load_photo(image)
        pixels = photo.pixels if photo.pixels.shape[2] == 3 else np.repeat(photo.pixels, 3, axis=2)
        return sorted(find_faces(pixels), key=lambda f: f.box[0])

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
        faces = self.find_faces(photo)
        if not faces:
            raise UserError(
                f"{photo.name}: no face found; if the image is already cropped like the model's training images, "
                "pass --align none"
            )
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

    def edit_photo(
        self,
        image: ImageLike,
        edits: Mapping[str, float],
        strength: float = 1.0,
        keep: Sequence[str] = (),
        face: int | None = None,
    ) -> Image.Image:
        """``image`` edited at its own resolution: every face (or face number ``face``, 1 = leftmost) gets the
        attributes ``edits`` (``{"Male": 1, "Smiling": -1}``, times ``strength``) while ``keep``'s attributes
        are held; pixels away from the faces are unchanged. Returns a PIL image of the photo's size."""
        return self.edit_loaded_photo(self.load_photo(image), edits, strength, keep, face)[0]

    def edit_loaded_photo(
        self,
        photo: Photo,
        edits: Mapping[str, float],
        strength: float = 1.0,
        keep: Sequence[str] = (),
        face: int | None = None,
    ) -> tuple[Image.Image, int]:
        """:meth:`edit_photo` of a photo read with :meth:`load_photo`, whose pixels it edits in place (no second
        copy of a large photo); returns the edited image and how many faces (frames) were edited."""
        frames = self.frames(photo, every=face is None, face=face)
        pixels = edit_pixels(self, photo, frames, edits, [strength], keep, in_place=True)[0]
        return photo_to_pil(photo, pixels, in_place=True), len(frames)

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
        landmark template; held-out faces kept as the same person: 59% -> 87%, BENCHMARKS.md), else 0."""
        return DEFAULT_STEPS if self.landmark_template is not None else 0

    def encode(self, images: ImagesLike, refine: int = 0) -> np.ndarray:
        """Codes of real images, float32 (N, c). ``refine``: that many Gauss-Newton steps on each code first,
        bringing its decoding closer to the image (:mod:`aaae_cli.refine`; a face model weighs the face above hair
        and background; about 0.25 s per 64x64 face on two CPU cores for 6 steps, for a measured gain in likeness).
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
