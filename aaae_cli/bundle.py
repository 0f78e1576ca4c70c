"""The model bundle: one folder (one Hugging Face Hub model repo) that the runtime can run without torch.

    config.json          format version, image size, code sizes, preprocessing, training data, metrics
    encoder.onnx         images (N, C, R, R) in [-1, 1] -> codes (N, c)
    decoder.onnx         codes (N, c) -> images (N, C, R, R) in [-1, 1]
    approximator.onnx    noise z (N, z) ~ N(0, I) -> codes (N, c)
    attributes.json      named edit directions in code space (optional)
    README.md            the Hub model card;  sample.png: a grid of samples shown in it
    checksums.sha256     SHA-256 of every other file (``sha256sum -c`` format)

Every file is verified against the manifest before it is used (an ONNX graph before its session is
created), and no file may leave the folder: names are plain (no separators, no ``..``, not absolute, not
hidden, no Windows device names) and a symbolic link may only point inside the folder (or, for a model in the
Hugging Face cache, into that repo's ``blobs`` folder, where ``snapshot_download`` keeps the files it links
to). Nothing in a bundle is a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aaae_cli.atomic import atomic_write_text
from aaae_cli.bundle_json import check_config, load_json
from aaae_cli.errors import UserError
from aaae_cli.onnx_scan import check_self_contained

FORMAT = "aaae-bundle"
FORMAT_VERSION = 1
CONFIG = "config.json"
MANIFEST = "checksums.sha256"
ATTRIBUTES = "attributes.json"
CARD = "README.md"
SAMPLE = "sample.png"
GRAPHS = ("encoder", "decoder", "approximator")
# What a bundle may hold (used as allow_patterns when downloading from the Hub).
BUNDLE_PATTERNS = (CONFIG, MANIFEST, ATTRIBUTES, CARD, "*.onnx", "*.png")
MAX_CONFIG_BYTES = 1 << 20  # a real config.json is about 10 kB
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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- the config


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX graph of the bundle: its file and tensor names."""

    file: str
    input: str
    output: str


@dataclass(frozen=True)
class BundleConfig:
    """The typed core of ``config.json``; ``raw`` keeps every field (training data, metrics, ...)."""

    name: str
    resolution: int
    channels: int
    z_dim: int
    c_dim: int
    crop: float
    graphs: dict[str, GraphSpec]
    attributes_file: str | None
    raw: dict[str, Any] = field(repr=False)
    landmark_template: np.ndarray | None = field(default=None, repr=False)
    """Mean face landmarks (5, 2) of the training images in the model's frame (0..1), if they are faces."""

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.raw.get("metrics") or {})

    @property
    def training(self) -> dict[str, Any]:
        return dict(self.raw.get("training") or {})

    @classmethod
    def from_dict(cls, data: Any, where: str) -> BundleConfig:
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
            graphs = {
                name: GraphSpec(
                    check_file_name(spec["file"], where), str(spec.get("input", "")), str(spec.get("output", ""))
                )
                for name, spec in data["graphs"].items()
            }
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
        attributes_file = None
        if isinstance(attributes, dict) and attributes.get("file"):
            attributes_file = check_file_name(attributes["file"], where)
        name = str(data.get("name") or "model")
        template = _landmark_template(prep.get("landmarks"), where)
        return cls(name, resolution, channels, z_dim, c_dim, crop, graphs, attributes_file, data, template)


def _landmark_template(block: Any, where: str) -> np.ndarray | None:
    """``preprocessing.landmarks.points``: five (x, y) pairs in the model's frame, or ``None`` when absent."""
    if block is None:
        return None
    try:
        points = np.asarray(block["points"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: unreadable landmark template ({type(exc).__name__})") from None
    if points.shape != (5, 2) or not np.all(np.isfinite(points)) or np.abs(points - 0.5).max() > 1.0:
        raise BundleError(f"{where}: landmark template must be five (x, y) pairs within the model's frame")
    if np.linalg.norm(points[1] - points[0]) < 0.05:
        raise BundleError(f"{where}: landmark template's eyes are too close together")
    return points


# ---------------------------------------------------------------- the manifest


def read_manifest(text: str, where: str) -> dict[str, str]:
    """Parse ``checksums.sha256`` (``<sha256>  <name>`` per line)."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line.strip())
        if not match:
            raise BundleError(f"{where}:{number}: not a '<sha256>  <file>' line")
        entries[check_file_name(match.group(2), where)] = match.group(1).lower()
    return entries


def write_manifest(folder: Path, names: list[str] | None = None) -> dict[str, str]:
    """Write ``checksums.sha256`` for ``names`` (default: every file in ``folder`` but the manifest)."""
    if names is None:
        names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    entries = {check_file_name(name, str(folder)): sha256_file(folder / name) for name in sorted(names)}
    atomic_write_text(folder / MANIFEST, "".join(f"{digest}  {name}\n" for name, digest in entries.items()))
    return entries


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON, written atomically (floats keep full precision)."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- an opened bundle


class Bundle:
    """A bundle folder with a verified config; other files are verified when read."""

    def __init__(self, path: str | os.PathLike[str], source: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.source = source or str(self.path)  # how the user named it (built-in name, Hub id, folder)
        if not self.path.is_dir():
            raise BundleError(f"{self.source}: no such bundle folder")
        manifest_path = self.path / MANIFEST
        self._check_inside(MANIFEST)
        if not manifest_path.is_file():
            if not (self.path / CONFIG).is_file():
                raise BundleError(f"{self.source}: not an aaae bundle (no {CONFIG} or {MANIFEST})")
            raise BundleError(f"{self.source}: {MANIFEST} is missing; the bundle is incomplete")
        try:
            manifest_text = manifest_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{self.source}: cannot read {MANIFEST} ({exc})") from None
        self.manifest = read_manifest(manifest_text, f"{self.source}/{MANIFEST}")
        config = load_json(self.read(CONFIG), f"{self.source}/{CONFIG}", MAX_CONFIG_BYTES)
        self.config = BundleConfig.from_dict(config, f"{self.source}/{CONFIG}")
        for spec in self.config.graphs.values():
            if spec.file not in self.manifest:
                raise BundleError(f"{self.source}: {spec.file} is not listed in {MANIFEST}")

    def read(self, name: str) -> bytes:
        """The bytes of a bundle file, checked against the manifest."""
        check_file_name(name, self.source)
        expected = self.manifest.get(name)
        if expected is None:
            raise BundleError(f"{self.source}: {name} is not listed in {MANIFEST}")
        path = self._check_inside(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BundleError(f"{self.source}: {name} is missing; re-export or re-download the bundle") from None
        except OSError as exc:
            raise BundleError(f"{self.source}: cannot read {name} ({exc.strerror or exc})") from None
        if sha256_bytes(data) != expected:
            raise BundleError(
                f"{self.source}: {name} does not match its checksum (corrupt or modified); "
                "re-export or re-download the bundle"
            )
        if name.endswith(".onnx"):  # the manifest covers these bytes only, not files a graph could point at
            check_self_contained(data, f"{self.source}/{name}")
        return data

    def _check_inside(self, name: str) -> Path:
        """``folder/name``, refused if it is a symbolic link to something outside the bundle folder."""
        path = self.path / name
        if not path.is_symlink():
            return path
        root = self.path.resolve()
        allowed = [root]
        if root.parent.name == "snapshots":  # the Hugging Face cache: snapshots/<commit>/<file> -> ../../blobs/<sha>
            allowed.append(root.parent.parent / "blobs")
        target = path.resolve()
        if not any(target.is_relative_to(folder) for folder in allowed):
            raise BundleError(
                f"{self.source}: {name} is a symbolic link to outside the bundle folder; refusing to read it"
            )
        return path

    def graph_bytes(self, graph: str) -> bytes:
        return self.read(self.config.graphs[graph].file)

    def verify_all(self) -> dict[str, int]:
        """Check every file in the manifest; returns {file name: size in bytes}."""
        return {name: len(self.read(name)) for name in sorted(self.manifest)}

    @property
    def name(self) -> str:
        return self.config.name
