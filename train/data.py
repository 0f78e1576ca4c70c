"""Training data: image folders, CelebA (with its 40 attributes) and MNIST idx files.

Every source is decoded once, by worker processes, into a uint8 cache (an ``.npy`` file of shape
``(N, R, R, C)`` plus a JSON sidecar with the file keys, labels and skipped files), so training never
waits on JPEG decoding. The cache is keyed by the sources (every file, with its size and modification
time) and the preprocessing; the train/validation split is a stable hash of each image's key, so it does
not depend on options, order or machine.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aaae_cli.align import FACE_TEMPLATE
from aaae_cli.atomic import atomic_write_text
from aaae_cli.datasets import (
    find_celeba_attributes,
    find_mnist_images,
    in_validation,
    mnist_labels_beside,
    read_celeba_attributes,
    read_idx,
)
from aaae_cli.errors import UserError
from aaae_cli.images import IMAGE_SUFFIXES, ImageReadError, list_images, load_image, prepare_pil
from aaae_cli.photo_edit import aligned_face
from aaae_train.archive import read_archive

CACHE_VERSION = 1


@dataclass(frozen=True)
class Source:
    """One training data source: what it is and where."""

    kind: str  # "folder", "celeba", "mnist" or "archive" (a prepared dataset, aaae_train.archive)
    path: Path
    labels: Path | None = None  # CelebA attribute file or MNIST label file


@dataclass
class Dataset:
    """Decoded images (uint8 NHWC) with their keys, optional labels and the validation split."""

    images: np.ndarray
    keys: list[str]
    attributes: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None  # (N, A) int8 in {1, -1, 0 = unknown}
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def split(self, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the training and validation images (stable hash of each key).

        A small set (under about 20 images at 5%) may have no key in the hash split: then the one image whose
        key hashes lowest is held out, so there is always something to validate on (same set, same choice).
        """
        is_val = np.array([in_validation(key, val_fraction) for key in self.keys], dtype=bool)
        if val_fraction > 0 and len(self.keys) >= 2 and not is_val.any():
            is_val[min(range(len(self.keys)), key=lambda i: hashlib.sha1(self.keys[i].encode("utf-8")).digest())] = True
        return np.flatnonzero(~is_val), np.flatnonzero(is_val)


# ---------------------------------------------------------------- finding sources


def detect_source(path: str | os.PathLike[str], kind: str = "auto", labels: str | None = None) -> Source:
    """Work out what ``path`` is: an MNIST idx file (or a folder holding one), a CelebA folder
    (images plus ``list_attr_celeba*.txt``) or a plain folder of images."""
    root = Path(path).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such file or folder")
    label_path = Path(labels).expanduser() if labels else None
    if label_path is not None and not label_path.is_file():
        raise UserError(f"{label_path}: no such labels file")
    if kind in ("auto", "archive") and root.is_file() and root.suffix.lower() == ".zip":
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
            images = root / "images" if (root / "images").is_dir() else root
            if (root / "img_align_celeba").is_dir():
                images = root / "img_align_celeba"
            return Source("celeba", images, attr)
        if kind == "celeba":
            raise UserError(f"{root}: no list_attr_celeba.txt found; pass --labels")
    if kind not in ("auto", "folder", "celeba", "mnist", "archive"):
        raise UserError(f"unknown dataset kind {kind!r}: use auto, folder, celeba, mnist or archive")
    return Source("folder", root, None)


# ---------------------------------------------------------------- decoding into the cache


@dataclass(frozen=True)
class Preprocessing:
    """How images are turned into model inputs (stored with the model, reused by the CLI)."""

    resolution: int
    channels: int
    crop: float
    align: str = "none"  # "face": the largest face aligned to FACE_TEMPLATE (photo_edit.aligned_face)

    def to_dict(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "channels": self.channels, "crop": self.crop, "align": self.align}

    @property
    def cache_tag(self) -> str:
        """What of the preprocessing the cache key depends on (unaligned caches keep their old keys)."""
        tag = f"{self.resolution}x{self.channels}@{self.crop:.6f}"
        return tag if self.align == "none" else f"{tag}+face:{FACE_TEMPLATE.round(5).tolist()}"


def _decode_file(job: tuple[str, Preprocessing]) -> np.ndarray | str:
    path, prep = job
    try:
        if prep.align == "face":
            return aligned_face(path, prep.resolution, FACE_TEMPLATE)
        return load_image(path, prep.resolution, prep.channels, prep.crop)
    except (ImageReadError, UserError) as exc:
        return str(exc)


def _decode_files(
    paths: Sequence[Path], prep: Preprocessing, workers: int, progress: Callable[[int], None] | None
) -> Iterable[np.ndarray | str]:
    jobs = [(str(p), prep) for p in paths]
    if workers <= 1 or len(jobs) < 64:
        for job in jobs:
            yield _decode_file(job)
            if progress:
                progress(1)
        return
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    with context.Pool(workers) as pool:
        for result in pool.imap(_decode_file, jobs, chunksize=32):
            yield result
            if progress:
                progress(1)


def _items_for(
    source: Source, prep: Preprocessing
) -> tuple[list[str], list[Path] | np.ndarray, list[str], dict[str, np.ndarray]]:
    """Keys, then file paths (or raw MNIST arrays), attribute names and label rows of one source."""
    if source.kind == "mnist":
        raw = read_idx(source.path)
        if raw.ndim != 3:
            raise UserError(f"{source.path}: expected an idx3 image file (N x H x W)")
        keys = [f"mnist:{i}" for i in range(len(raw))]
        rows: dict[str, np.ndarray] = {}
        names: list[str] = []
        if source.labels is not None:
            digits = read_idx(source.labels)
            if digits.shape != (len(raw),):
                raise UserError(f"{source.labels}: {digits.shape[0]} labels for {len(raw)} images")
            names = [f"digit_{d}" for d in range(10)]
            eye = np.where(np.eye(10, dtype=bool), 1, -1).astype(np.int8)
            rows = {key: eye[d] for key, d in zip(keys, digits, strict=True)}
        return keys, raw, names, rows
    if source.kind == "archive":
        manifest, images, labels = read_archive(source.path)
        archived = manifest["preprocessing"]
        if (archived["resolution"], archived["channels"], archived.get("align", "none")) != (
            prep.resolution, prep.channels, prep.align
        ):  # fmt: skip
            raise UserError(f"{source.path}: prepared as {archived}, but this run needs {prep.to_dict()}")
        keys, names = manifest["keys"], manifest["attributes"]
        rows = {key: row for key, row in zip(keys, labels, strict=True)} if labels is not None else {}
        return keys, images, names, rows
    if not source.path.is_dir():
        raise UserError(f"{source.path}: no such folder")
    paths = list_images(source.path)
    if not paths:
        raise UserError(f"{source.path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    keys = [p.relative_to(source.path).as_posix() for p in paths]
    if source.kind == "celeba" and source.labels is not None:
        names, by_name = read_celeba_attributes(source.labels)
        rows = {key: by_name[Path(key).name] for key in keys if Path(key).name in by_name}
        return keys, paths, names, rows
    return keys, paths, [], {}


def _stamp(path: Path) -> str:
    """Size and modification time of one file: a changed, added or removed file changes the cache key."""
    try:
        info = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def source_fingerprint(source: Source) -> str:
    """Every file a source reads (image files, idx or label files), with sizes and modification times."""
    files = [source.path] if source.kind == "mnist" or not source.path.is_dir() else list_images(source.path)
    if source.labels is not None:
        files.append(source.labels)
    digest = hashlib.sha1()
    for path in files:
        digest.update(_stamp(path).encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def cache_key(sources: Sequence[Source], prep: Preprocessing) -> str:
    """The cache entry for ``sources`` as they are now: paths, preprocessing *and* the file list with sizes
    and modification times (keyed by paths alone, a folder with images added or deleted kept training on
    the old set, and reported skipped files that no longer existed)."""
    parts = [f"v{CACHE_VERSION}", prep.cache_tag]
    for s in sources:
        parts.append(f"{s.kind}:{s.path.resolve()}:{s.labels.resolve() if s.labels else ''}:{source_fingerprint(s)}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def load_dataset(
    sources: Sequence[Source],
    prep: Preprocessing,
    cache_dir: Path,
    workers: int = 2,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
) -> Dataset:
    """Decode ``sources`` into the uint8 cache (once) and return the dataset.

    ``progress(total, done_before)`` may return a callback advanced once per decoded image.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(sources, prep)
    array_path, meta_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    if array_path.is_file() and meta_path.is_file():
        try:
            return _open_cache(array_path, meta_path)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache entry (issue #13): decoded again below, and replaced
    return _build_cache(sources, prep, array_path, meta_path, workers, progress)


def _open_cache(array_path: Path, meta_path: Path) -> Dataset:
    meta = json.loads(meta_path.read_text())
    images = np.load(array_path, mmap_mode="r")
    labels_path = _labels_path(array_path)
    labels = np.load(labels_path) if meta["attributes"] and labels_path.is_file() else None
    return Dataset(images, meta["keys"], meta["attributes"], labels, meta["skipped"])


def _labels_path(array_path: Path) -> Path:
    return array_path.with_name(array_path.stem + ".labels.npy")


def _save_npy(path: Path, array: np.ndarray) -> None:
    """Write ``array`` atomically; a full disk is one line and leaves no ``.npy.tmp`` behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UserError(
                f"{path.parent}: cannot write the dataset cache ({exc.strerror or exc}); free some space "
                "or choose another --cache-dir"
            ) from None
        raise


def _build_cache(
    sources: Sequence[Source],
    prep: Preprocessing,
    array_path: Path,
    meta_path: Path,
    workers: int,
    progress: Callable[[int, int], Callable[[int], None]] | None,
) -> Dataset:
    listed = [_items_for(s, prep) for s in sources]
    total = sum(len(keys) for keys, *_ in listed)
    advance = progress(total, 0) if progress else None
    images: list[np.ndarray] = []
    keys: list[str] = []
    skipped: list[str] = []
    label_rows: list[dict[str, np.ndarray]] = []
    attributes: list[str] = []
    for source, (source_keys, items, names, rows) in zip(sources, listed, strict=True):
        if names:
            if attributes and names != attributes:
                raise UserError("the data sources have different attribute names; train on one kind at a time")
            attributes = names
        label_rows.append(rows)
        prefix = f"{source.path.name}/" if len(sources) > 1 and source.kind != "mnist" else ""
        if source.kind == "archive":
            images.extend(items)
            keys.extend(prefix + key for key in source_keys)
            if advance:
                advance(len(source_keys))
            continue
        if isinstance(items, np.ndarray):
            for key, raw in zip(source_keys, items, strict=True):
                images.append(prepare_pil(Image.fromarray(raw, "L"), prep.resolution, prep.channels, prep.crop))
                keys.append(key)
                if advance:
                    advance(1)
            continue
        for key, result in zip(source_keys, _decode_files(items, prep, workers, advance), strict=True):
            if isinstance(result, str):
                skipped.append(result)
            else:
                images.append(result)
                keys.append(prefix + key)
    if not images:
        first = f" (first: {skipped[0]})" if skipped else ""
        raise UserError(f"no readable image among {total} files{first}")
    labels = None
    if attributes:
        unknown = np.zeros(len(attributes), dtype=np.int8)
        merged: dict[str, np.ndarray] = {}
        for source, rows in zip(sources, label_rows, strict=True):
            prefix = f"{source.path.name}/" if len(sources) > 1 and source.kind != "mnist" else ""
            merged.update({prefix + k: v for k, v in rows.items()})
        labels = np.stack([merged.get(k, unknown) for k in keys])
    stacked = np.stack(images)
    _save_npy(array_path, stacked)
    if labels is not None:
        _save_npy(_labels_path(array_path), labels)
    meta = {
        "version": CACHE_VERSION,
        "sources": [
            {"kind": s.kind, "path": str(s.path), "labels": str(s.labels) if s.labels else None} for s in sources
        ],
        "preprocessing": prep.to_dict(),
        "keys": keys,
        "attributes": attributes,
        "skipped": skipped,
    }
    atomic_write_text(meta_path, json.dumps(meta))
    return Dataset(stacked, keys, attributes, labels, skipped)


def default_cache_dir() -> Path:
    """Where decoded datasets are cached: $AAAE_CACHE_DIR, else ~/.cache/aaae/datasets."""
    base = os.environ.get("AAAE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "aaae", "datasets"
    )
    return Path(base)
