"""What a data path is, how its images are keyed and which are held out: the one owner (torch-free).

A data path (:func:`detect_source`) is one of

- an MNIST idx image file, or a folder holding ``train-images-idx3-ubyte[.gz]``, with the label file beside it
  when there is one: images keyed ``mnist:INDEX`` (:func:`mnist_key`), labelled ``digit_0`` .. ``digit_9``;
- a CelebA folder: ``list_attr_celeba*.txt`` (or ``--labels``) with the images in ``img_align_celeba/``, else
  ``images/``, else the folder itself (:func:`celeba_image_folder`); labels are matched by file name;
- a prepared archive (a ``.zip`` of :mod:`aaae_cli.data.archive`): keys, labels and images as prepared;
- a plain folder of images (class sub-folders among them: :func:`labelled_images` reads those as labels).

A file is keyed by its path relative to the image folder. A run that reads several data paths puts ``FOLDER/``
(the image folder's name) before the keys of every source but MNIST (:func:`key_prefix`); a bundle records how
many paths its keys came from (:func:`key_sources`, ``training.data.sources``) so that ``aaae eval`` and
``aaae attributes calibrate`` name the images alike. The held-out split is a stable hash of each key
(:func:`held_out`): the same answer on every machine, for any options or order.

Training (:mod:`aaae_train.data`), ``aaae export``, ``aaae eval``, ``aaae attributes compute`` and
``aaae attributes calibrate`` read data through this module and decide none of this themselves.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aaae_cli.data.archive import read_archive, read_manifest
from aaae_cli.data.kinds import SOURCE_KINDS, SOURCE_KINDS_TEXT
from aaae_cli.errors import UserError
from aaae_cli.images import IMAGE_SUFFIXES, check_regular_file, list_images

CELEBA_IMAGE_FOLDERS = ("img_align_celeba", "images")  # the first that exists holds a CelebA folder's images

MNIST_IMAGE_NAMES = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (optionally gzipped) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    check_regular_file(path)
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read idx file ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte idx file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{path}: truncated idx header")
    shape = struct.unpack(">" + "I" * ndim, data[4:header])
    count = int(np.prod(shape))
    if len(data) - header < count:
        raise UserError(f"{path}: truncated idx file ({len(data) - header} of {count} bytes)")
    return np.frombuffer(data, dtype=np.uint8, count=count, offset=header).reshape(shape)


def read_celeba_attributes(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Parse ``list_attr_celeba.txt``: attribute names and a {file name: int8 row of +-1} map."""
    check_regular_file(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if len(lines) < 2:
        raise UserError(f"{path}: not a CelebA attribute file (too short)")
    names = lines[1].split()
    rows: dict[str, np.ndarray] = {}
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise UserError(f"{path}:{number}: expected a file name and {len(names)} values")
        rows[parts[0]] = np.array([1 if v == "1" else -1 for v in parts[1:]], dtype=np.int8)
    return names, rows


def find_mnist_images(root: Path) -> Path | None:
    """``root`` itself if it is an idx3 image file, else the MNIST image file inside the folder ``root``."""
    candidates = [root] if root.is_file() else [root / (n + s) for n in MNIST_IMAGE_NAMES for s in ("", ".gz")]
    for candidate in candidates:
        name = candidate.name.removesuffix(".gz")
        if candidate.is_file() and (name.endswith("idx3-ubyte") or name.endswith(".idx3")):
            return candidate
    return None


def mnist_labels_beside(images: Path) -> Path | None:
    """The label file next to an MNIST image file (``train-labels-idx1-ubyte[.gz]``), if there is one."""
    name = images.name.replace("images-idx3", "labels-idx1")
    for candidate in (images.with_name(name), images.with_name(name.removesuffix(".gz"))):
        if candidate != images and candidate.is_file():
            return candidate
    return None


def find_celeba_attributes(root: Path) -> Path | None:
    """``list_attr_celeba*.txt`` inside ``root``, if there is one."""
    found = sorted(root.glob("list_attr_celeba*.txt"))
    return found[0] if found else None


# ---------------------------------------------------------------- what a data path is


@dataclass(frozen=True)
class Source:
    """One data path: what it is and where."""

    kind: str  # "folder", "celeba", "mnist" or "archive" (a prepared dataset, aaae_cli.data.archive)
    path: Path  # the image folder, the idx image file or the archive
    labels: Path | None = None  # CelebA attribute file or MNIST label file


def celeba_image_folder(root: Path) -> Path:
    """Where a CelebA folder keeps its images: ``img_align_celeba/`` (the official name), else ``images/``, else the
    folder itself. Training, eval, attributes and calibrate all read this one folder."""
    for name in CELEBA_IMAGE_FOLDERS:
        if (root / name).is_dir():
            return root / name
    return root


def detect_source(
    path: str | os.PathLike[str], kind: str = "auto", labels: str | os.PathLike[str] | None = None
) -> Source:
    """Work out what ``path`` is (see the module docstring); ``kind`` forces one reading, ``labels`` names the
    CelebA attribute file or MNIST label file."""
    root = Path(path).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such file or folder")
    label_path = Path(labels).expanduser() if labels else None
    if label_path is not None and not label_path.is_file():
        raise UserError(f"{label_path}: no such labels file")
    if kind in ("auto", "archive") and _is_archive(root):
        return Source("archive", root, None)
    if kind in ("auto", "mnist"):
        idx = find_mnist_images(root)
        if idx is not None:
            return Source("mnist", idx, label_path or mnist_labels_beside(idx))
        if kind == "mnist":
            raise UserError(f"{root}: no MNIST idx image file (train-images-idx3-ubyte[.gz]) found")
    if root.is_file():
        raise UserError(f"{root}: is a file; give a folder of images, a CelebA folder or an MNIST idx file")
    if kind in ("auto", "celeba"):
        attr = label_path or find_celeba_attributes(root)
        if attr is not None:
            return Source("celeba", celeba_image_folder(root), attr)
        if kind == "celeba":
            raise UserError(f"{root}: no list_attr_celeba.txt found; pass --labels")
    if kind not in SOURCE_KINDS:
        raise UserError(f"unknown dataset kind {kind!r}: use {SOURCE_KINDS_TEXT}")
    return Source("folder", root, None)


# ---------------------------------------------------------------- how images are keyed


def mnist_key(index: int) -> str:
    """The key of the MNIST image at ``index`` of its idx file."""
    return f"mnist:{index}"


def file_key(path: Path, folder: Path) -> str:
    """The key of an image file: its path relative to the image folder, with ``/``."""
    return path.relative_to(folder).as_posix()


def key_prefix(source: Source, paths: int) -> str:
    """What goes before the keys of ``source`` when the keys come from ``paths`` data paths: with more than one,
    ``FOLDER/`` (the image folder's or archive's name), so that two folders' ``001.png`` stay apart; MNIST keys never
    take one."""
    return f"{source.path.name}/" if paths > 1 and source.kind != "mnist" else ""


def key_sources(paths: Sequence[str | os.PathLike[str]]) -> int:
    """How many data paths the keys of a run on ``paths`` come from (what ``training.data.sources`` records): a
    prepared archive counts the paths it was made of, since its keys were prefixed then."""
    count = 0
    for path in paths:
        archive = Path(path).expanduser()
        count += read_manifest(archive).get("sources", 1) if _is_archive(archive) else 1
    return max(1, count)


def _is_archive(path: Path) -> bool:
    """Whether ``path`` is a prepared dataset archive (as :func:`detect_source` reads it with kind auto)."""
    return path.is_file() and path.suffix.lower() == ".zip"


# ---------------------------------------------------------------- which images are held out


def in_validation(key: str, val_fraction: float) -> bool:
    """Whether the image with this key is held out of training: a stable hash of the key, so the same
    answer on every machine, for any options or order (``aaae train`` and ``aaae eval`` agree)."""
    return int.from_bytes(_digest(key)[:4], "big") % 100_000 < round(val_fraction * 100_000)


def held_out(keys: Sequence[str], val_fraction: float) -> np.ndarray:
    """Which of ``keys`` are held out (a boolean mask): :func:`in_validation` of each.

    A small set (under about 20 images at 5%) may have no key in the hash split: then the one image whose key
    hashes lowest is held out, so there is always something to validate on (same set, same choice).
    """
    mask = np.array([in_validation(key, val_fraction) for key in keys], dtype=bool)
    if val_fraction > 0 and len(keys) >= 2 and not mask.any():
        mask[min(range(len(keys)), key=lambda i: _digest(keys[i]))] = True
    return mask


def _digest(key: str) -> bytes:
    return hashlib.sha1(key.encode("utf-8")).digest()


# ---------------------------------------------------------------- the keyed images of a data path


@dataclass
class SourceImages:
    """The images of one data path with their keys: image files (``paths``) or pixels (``raw``), one per key, and
    the label row of each key the labels know."""

    source: Source
    keys: list[str]
    paths: list[Path] = field(default_factory=list)
    raw: np.ndarray | None = None  # MNIST (N, H, W) or a prepared archive's (N, R, R, C) uint8 pixels
    attributes: list[str] = field(default_factory=list)
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # key -> int8 row in {1, -1, 0 = unknown}
    prepared: dict[str, Any] | None = None  # an archive's preprocessing

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def labels(self) -> np.ndarray | None:
        """(N, A) int8 labels in key order, 0 where unknown; ``None`` without attributes."""
        if not self.attributes:
            return None
        unknown = np.zeros(len(self.attributes), dtype=np.int8)
        return np.stack([self.rows.get(key, unknown) for key in self.keys]).astype(np.int8)

    def listed(self) -> SourceImages:
        """Only the images the labels know (a CelebA folder's images listed in its attribute file)."""
        keep = [i for i, key in enumerate(self.keys) if key in self.rows]
        if not keep:
            raise UserError(f"{self.source.path}: none of its images is listed in {self.source.labels}")
        return SourceImages(
            self.source,
            [self.keys[i] for i in keep],
            [self.paths[i] for i in keep] if self.paths else [],
            self.raw[keep] if self.raw is not None else None,
            self.attributes,
            self.rows,
            self.prepared,
        )


def read_source(source: Source, prefix: str = "") -> SourceImages:
    """The keyed images and labels of ``source``, each key after ``prefix`` (:func:`key_prefix`)."""
    if source.kind == "mnist":
        return _mnist(source)
    if source.kind == "archive":
        manifest, images, labels = read_archive(source.path)
        keys = [prefix + key for key in manifest["keys"]]
        rows = dict(zip(keys, labels, strict=True)) if labels is not None else {}
        return SourceImages(source, keys, [], images, manifest["attributes"], rows, manifest["preprocessing"])
    if not source.path.is_dir():
        raise UserError(f"{source.path}: no such folder")
    paths = list_images(source.path)
    if not paths:
        raise UserError(f"{source.path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    keys = [prefix + file_key(p, source.path) for p in paths]
    if source.kind == "celeba" and source.labels is not None:
        names, by_name = read_celeba_attributes(source.labels)
        rows = {key: by_name[p.name] for key, p in zip(keys, paths, strict=True) if p.name in by_name}
        return SourceImages(source, keys, paths, None, names, rows)
    return SourceImages(source, keys, paths)


def _mnist(source: Source) -> SourceImages:
    raw = read_idx(source.path)
    if raw.ndim != 3:
        raise UserError(f"{source.path}: expected an idx3 image file (N x H x W)")
    keys = [mnist_key(i) for i in range(len(raw))]
    if source.labels is None:
        return SourceImages(source, keys, [], raw)
    digits = read_idx(source.labels)
    if digits.shape != (len(raw),):
        raise UserError(f"{source.labels}: {digits.shape[0]} labels for {len(raw)} images")
    eye = np.where(np.eye(10, dtype=bool), 1, -1).astype(np.int8)
    rows = {key: eye[d] for key, d in zip(keys, digits, strict=True)}
    return SourceImages(source, keys, [], raw, [f"digit_{d}" for d in range(10)], rows)


# ---------------------------------------------------------------- labelled sets for attribute directions


@dataclass
class LabelledImages:
    """Images to encode (file paths, or raw MNIST arrays) with an (N, A) int8 label matrix in {1, -1, 0}."""

    kind: str  # "celeba", "classes" or "mnist"
    names: list[str]
    labels: np.ndarray
    paths: list[Path] = field(default_factory=list)
    raw: np.ndarray | None = None  # MNIST: (N, H, W) uint8
    description: str = ""
    keys: list[str] = field(default_factory=list)  # as training keys them (one data path)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def labelled_images(data: Path, labels: Path | None = None) -> LabelledImages:
    """Find labelled images in ``data`` (:func:`detect_source`).

    - an MNIST idx image file (or a folder holding one) with its label file: attributes ``digit_0..9``;
    - a CelebA folder: its images listed in the attribute file (``--labels``, or ``list_attr_celeba*.txt`` in
      the folder), matched by file name;
    - a folder of class sub-folders: each sub-folder is an attribute, its images the positives and all
      other images the negatives.
    """
    source = detect_source(data, "auto", labels)
    if source.kind == "archive":
        raise UserError(f"{source.path}: is a file; give a folder of images or an MNIST idx file")
    if source.kind == "mnist":
        if source.labels is None:
            raise UserError(f"{source.path}: no label file (train-labels-idx1-ubyte[.gz]) beside it; pass --labels")
        read = read_source(source)
        assert read.labels is not None
        return LabelledImages(
            "mnist", read.attributes, read.labels, raw=read.raw, description=f"MNIST {source.path.name}", keys=read.keys
        )
    if source.kind == "celeba":
        assert source.labels is not None
        read = read_source(source).listed()
        assert read.labels is not None
        description = f"{source.path.name} with {source.labels.name}"
        return LabelledImages("celeba", read.attributes, read.labels, read.paths, None, description, read.keys)
    return _classes(source.path)


def _classes(root: Path) -> LabelledImages:
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = [(c.name, list_images(c)) for c in classes]
    per_class = [(name, files) for name, files in per_class if files]
    if len(per_class) < 2:
        raise UserError(
            f"{root}: need labels: a CelebA attribute file (--labels), an MNIST idx file with labels, or a folder "
            f"with at least two class sub-folders of images ({', '.join(IMAGE_SUFFIXES)})"
        )
    paths = [p for _, files in per_class for p in files]
    labels = np.full((len(paths), len(per_class)), -1, dtype=np.int8)
    start = 0
    for column, (_, files) in enumerate(per_class):
        labels[start : start + len(files), column] = 1
        start += len(files)
    return LabelledImages(
        "classes",
        [name for name, _ in per_class],
        labels,
        paths=paths,
        description=f"class folders of {root.name}",
        keys=[file_key(p, root) for p in paths],
    )
