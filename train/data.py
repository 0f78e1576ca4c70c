"""Training data: the data paths of :mod:`aaae_cli.data.sources` decoded once into a cache.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aaae_cli.data.sources import Source, SourceImages, held_out, key_prefix, read_source
from aaae_cli.errors import UserError
from aaae_cli.images import ImageReadError, list_images, load_image, prepare_pil
from aaae_cli.photos.align import FACE_TEMPLATE
from aaae_cli.photos.edit import aligned_face
from aaae_cli.utils.atomic import atomic_write_text
from aaae_cli.utils.progress import Progress, Task, or_silent

CACHE_VERSION = 1


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
        """Indices of the training and validation images (:func:`aaae_cli.data.sources.held_out`)."""
        is_val = held_out(self.keys, val_fraction)
        return np.flatnonzero(~is_val), np.flatnonzero(is_val)


# ---------------------------------------------------------------- decoding into the cache


@dataclass(frozen=True)
class Preprocessing:
    """How images are turned into model inputs (stored with the model, reused by the CLI)."""

    resolution: int
    channels: int
    crop: float
    align: str = "none"  # "face": the largest face aligned to FACE_TEMPLATE (aaae_cli.photos.edit.aligned_face)

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


def _decode_files(paths: Sequence[Path], prep: Preprocessing, workers: int, task: Task) -> Iterable[np.ndarray | str]:
    jobs = [(str(p), prep) for p in paths]
    if workers <= 1 or len(jobs) < 64:
        for job in jobs:
            yield _decode_file(job)
            task.advance(1)
        return
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "fork")
    with context.Pool(workers) as pool:
        for result in pool.imap(_decode_file, jobs, chunksize=32):
            yield result
            task.advance(1)


def _read(source: Source, prep: Preprocessing, paths: int) -> SourceImages:
    """The keyed images of one of ``paths`` sources; an archive must have been prepared as this run needs."""
    read = read_source(source, key_prefix(source, paths))
    archived = read.prepared
    if archived is not None and (archived["resolution"], archived["channels"], archived.get("align", "none")) != (
        prep.resolution, prep.channels, prep.align
    ):  # fmt: skip
        raise UserError(f"{source.path}: prepared as {archived}, but this run needs {prep.to_dict()}")
    return read


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
    progress: Progress | None = None,
) -> Dataset:
    """Decode ``sources`` into the uint8 cache (once) and return the dataset; ``progress`` shows the decoding as a
    task (:mod:`aaae_cli.utils.progress`)."""
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
    progress: Progress | None,
) -> Dataset:
    listed = [_read(s, prep, len(sources)) for s in sources]
    total = sum(len(read) for read in listed)
    with or_silent(progress).task("decoding images", total) as task:
        images, keys, skipped, attributes = _decode(listed, prep, workers, task)
    if not images:
        first = f" (first: {skipped[0]})" if skipped else ""
        raise UserError(f"no readable image among {total} files{first}")
    labels = None
    if attributes:
        unknown = np.zeros(len(attributes), dtype=np.int8)
        merged: dict[str, np.ndarray] = {}
        for read in listed:  # a key two sources share takes the later source's row
            merged.update(read.rows)
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


def _decode(
    listed: list[SourceImages], prep: Preprocessing, workers: int, task: Task
) -> tuple[list[np.ndarray], list[str], list[str], list[str]]:
    """Every source's images prepared for training: (images, their keys, skipped files, attribute names)."""
    images: list[np.ndarray] = []
    keys: list[str] = []
    skipped: list[str] = []
    attributes: list[str] = []
    for read in listed:
        if read.attributes:
            if attributes and read.attributes != attributes:
                raise UserError("the data sources have different attribute names; train on one kind at a time")
            attributes = read.attributes
        if read.source.kind == "archive":
            images.extend(read.raw)
            keys.extend(read.keys)
            task.advance(len(read))
            continue
        if read.raw is not None:  # MNIST
            for key, raw in zip(read.keys, read.raw, strict=True):
                images.append(prepare_pil(Image.fromarray(raw, "L"), prep.resolution, prep.channels, prep.crop))
                keys.append(key)
                task.advance(1)
            continue
        for key, result in zip(read.keys, _decode_files(read.paths, prep, workers, task), strict=True):
            if isinstance(result, str):
                skipped.append(result)
            else:
                images.append(result)
                keys.append(key)
    return images, keys, skipped, attributes


def default_cache_dir() -> Path:
    """Where decoded datasets are cached: $AAAE_CACHE_DIR, else ~/.cache/aaae/datasets."""
    base = os.environ.get("AAAE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "aaae", "datasets"
    )
    return Path(base)
