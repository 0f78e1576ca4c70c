"""Torch-free readers for labelled image data: MNIST idx files, CelebA attribute lists, class folders.

Training (:mod:`aaae_train.data`) and ``aaae attributes compute`` both read data through these
functions, so a labels file means the same thing to both.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aaae_cli.errors import UserError
from aaae_cli.images import IMAGE_SUFFIXES, check_regular_file, list_images

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

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def labelled_images(data: Path, labels: Path | None = None) -> LabelledImages:
    """Find labelled images in ``data``.

    - an MNIST idx image file (or a folder holding one) with its label file: attributes ``digit_0..9``;
    - a folder of images with a CelebA attribute file (``--labels``, or ``list_attr_celeba*.txt`` in the
      folder; images are matched by file name, in ``data``, ``data/images`` or ``data/img_align_celeba``);
    - a folder of class sub-folders: each sub-folder is an attribute, its images the positives and all
      other images the negatives.
    """
    root = Path(data).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such file or folder")
    if labels is not None and not Path(labels).expanduser().is_file():
        raise UserError(f"{labels}: no such labels file")
    label_path = Path(labels).expanduser() if labels is not None else None
    idx = find_mnist_images(root)
    if idx is not None:
        return _mnist(idx, label_path or mnist_labels_beside(idx))
    if root.is_file():
        raise UserError(f"{root}: is a file; give a folder of images or an MNIST idx file")
    attr = label_path or find_celeba_attributes(root)
    if attr is not None:
        return _celeba(root, attr)
    return _classes(root)


def _mnist(images: Path, labels: Path | None) -> LabelledImages:
    raw = read_idx(images)
    if raw.ndim != 3:
        raise UserError(f"{images}: expected an idx3 image file (N x H x W)")
    if labels is None:
        raise UserError(f"{images}: no label file (train-labels-idx1-ubyte[.gz]) beside it; pass --labels")
    digits = read_idx(labels)
    if digits.shape != (len(raw),):
        raise UserError(f"{labels}: {digits.shape[0]} labels for {len(raw)} images")
    table = np.where(np.eye(10, dtype=bool), 1, -1).astype(np.int8)
    return LabelledImages(
        "mnist", [f"digit_{d}" for d in range(10)], table[digits], raw=raw, description=f"MNIST {images.name}"
    )


def _celeba(root: Path, attr: Path) -> LabelledImages:
    names, rows = read_celeba_attributes(attr)
    folder = root
    for sub in ("img_align_celeba", "images"):
        if (root / sub).is_dir():
            folder = root / sub
    paths = [p for p in list_images(folder) if p.name in rows]
    if not paths:
        raise UserError(f"{folder}: none of its images is listed in {attr}")
    labels = np.stack([rows[p.name] for p in paths])
    return LabelledImages("celeba", names, labels, paths=paths, description=f"{folder.name} with {attr.name}")


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
        "classes", [name for name, _ in per_class], labels, paths=paths, description=f"class folders of {root.name}"
    )


def in_validation(key: str, val_fraction: float) -> bool:
    """Whether the image with this key is held out of training: a stable hash of the key, so the same
    answer on every machine, for any options or order (``aaae train`` and ``aaae eval`` agree)."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100_000 < round(val_fraction * 100_000)
