"""The model bundle: one folder (one Hugging Face Hub model repo) that the runtime can run without torch.

    config.json          format version, image size, code sizes, preprocessing, training data, metrics
                         (typed in :mod:`aaae_cli.bundle.config`; written only by :mod:`aaae_cli.bundle.writer`)
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
from pathlib import Path
from typing import Any

from aaae_cli.bundle.attributes import AttributeSet
from aaae_cli.bundle.config import ATTRIBUTES, BundleConfig, BundleError, check_file_name
from aaae_cli.bundle.safe_json import load_json
from aaae_cli.utils.atomic import atomic_write_text
from aaae_cli.utils.onnx_scan import check_self_contained

CONFIG = "config.json"
MANIFEST = "checksums.sha256"
CARD = "README.md"
SAMPLE = "sample.png"
# What a bundle may hold (used as allow_patterns when downloading from the Hub).
BUNDLE_PATTERNS = (CONFIG, MANIFEST, ATTRIBUTES, CARD, "*.onnx", "*.png")
MAX_CONFIG_BYTES = 1 << 20  # a real config.json is about 10 kB


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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

    def read_attributes(self) -> AttributeSet:
        """The bundle's attribute directions, checked (empty when it has none)."""
        name = self.config.attributes_file
        if name is None:
            return AttributeSet()
        return AttributeSet.from_json(self.read(name), self.config.c_dim, f"{self.source}/{name}")

    def graph_bytes(self, graph: str) -> bytes:
        return self.read(self.config.graphs[graph].file)

    def verify_all(self) -> dict[str, int]:
        """Check every file in the manifest; returns {file name: size in bytes}."""
        return {name: len(self.read(name)) for name in sorted(self.manifest)}

    @property
    def name(self) -> str:
        return self.config.name
