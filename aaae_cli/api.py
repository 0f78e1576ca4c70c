"""The Python API of the runtime: load a model, then sample, encode, decode, reconstruct, interpolate, edit.

    import aaae_cli as aaae

    model = aaae.load("user/faces@v1")            # a built-in name, a bundle folder or a Hub id
    grid = model.sample(16, seed=0)               # uint8 (16, R, R, C)
    codes = model.encode(["a.jpg", "b.jpg"])      # float32 (2, c); any image size, mode or EXIF rotation
    frames = model.interpolate("a.jpg", "b.jpg", steps=8)
    older = model.edit("face.jpg", {"Male": 1.5}) # uint8 (R, R, C)
    model.attributes["smiling"].positive          # names match case-insensitively

Images go in as file paths, encoded bytes, PIL images or uint8 arrays (HWC, or NHWC for a batch) and are
prepared exactly as the model's training data were (square centre crop, Lanczos resize, grayscale or RGB).
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

from aaae_cli.attributes import AttributeSet
from aaae_cli.bundle import Bundle
from aaae_cli.checks import check_seed
from aaae_cli.errors import UserError
from aaae_cli.images import load_image, prepare_pil, to_model_input, to_pil, to_uint8
from aaae_cli.locate import open_model
from aaae_cli.runtime import Graph, check_device, default_threads

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
        return self.bundle.config.raw

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
            name = self.bundle.config.attributes_file
            if name is None:
                self._attributes = AttributeSet()
            else:
                where = f"{self.bundle.source}/{name}"
                self._attributes = AttributeSet.from_json(self.bundle.read(name), self.c_dim, where)
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

    # ------------------------------------------------------------------ images in

    def prepare(self, image: ImageLike) -> np.ndarray:
        """One image as the model's training data were prepared: uint8 (R, R, C)."""
        r, c, crop = self.resolution, self.channels, self.crop
        if isinstance(image, (str, os.PathLike, bytes)):
            return load_image(image if isinstance(image, bytes) else Path(image).expanduser(), r, c, crop)
        if isinstance(image, Image.Image):
            return prepare_pil(ImageOps.exif_transpose(image), r, c, crop)
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise UserError(f"image arrays must be uint8 (got {array.dtype}); scale to 0..255 first")
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise UserError(f"an image array must be HW or HWC with 1, 3 or 4 channels, not {array.shape}")
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

    def encode(self, images: ImagesLike) -> np.ndarray:
        """Codes of real images, float32 (N, c)."""
        batch = self.prepare_batch(images)
        return self.graph("encoder", bulk=len(batch) >= BULK).run(to_model_input(batch), self.batch_size)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Images of codes (N, c) (or one code (c,)), uint8 (N, R, R, C)."""
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim == 1:
            codes = codes[None]
        if codes.ndim != 2 or codes.shape[1] != self.c_dim or codes.shape[0] == 0:
            raise UserError(f"codes must have shape (N, {self.c_dim}), not {codes.shape}")
        if not np.all(np.isfinite(codes)):
            raise UserError("codes contain NaN or infinite values")
        decoder = self.graph("decoder")
        return np.concatenate([to_uint8(part) for part in decoder.run_batches(codes, self.batch_size)])

    def reconstruct(self, images: ImagesLike) -> np.ndarray:
        """Decode(encode(images)): uint8 (N, R, R, C)."""
        return self.decode(self.encode(images))

    def interpolate(self, a: ImageLike, b: ImageLike, steps: int = 8) -> np.ndarray:
        """``steps`` images along the straight line between the codes of ``a`` and ``b`` (the first and
        last are their reconstructions): uint8 (steps, R, R, C)."""
        if steps < 2:
            raise UserError(f"--steps must be at least 2 (got {steps})")
        codes = self.encode([a, b])
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
