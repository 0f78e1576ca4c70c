"""``aaae attributes compute``: attribute directions from labelled images, written into a bundle (no torch).

Images are decoded by worker processes exactly as the model's training data were, encoded with the bundle's
ONNX encoder a batch at a time (only the codes are kept, so memory stays bounded), and turned into
mean-difference directions. The bundle with the new ``attributes.json`` is written by the one bundle writer
(:mod:`aaae_cli.bundle.writer`: built beside the old one and swapped in), or as a new bundle with ``--out``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from aaae_cli.bundle.attributes import Attribute, AttributeSet
from aaae_cli.bundle.folder import ATTRIBUTES, CARD, CONFIG, MANIFEST
from aaae_cli.bundle.writer import save_bundle
from aaae_cli.data.sources import LabelledImages, labelled_images
from aaae_cli.errors import UserError
from aaae_cli.images import ImageReadError, load_image, prepare_pil, to_model_input
from aaae_cli.photos.edit import aligned_face
from aaae_cli.utils.progress import Progress, or_silent

if TYPE_CHECKING:
    from aaae_cli.api import Model

CHUNK = 1024  # images decoded and encoded per step


def compute_attributes(
    codes: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    source: Mapping[str, Any] | None = None,
    min_count: int = 10,
) -> tuple[list[Attribute], list[str]]:
    """Mean-difference directions from codes (N, c) and labels (N, A) in {1 = has it, -1 = has not, 0 = unknown}.

    Returns the attributes and the names skipped because fewer than ``min_count`` images were on one side.
    """
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels)
    if codes.ndim != 2 or labels.shape != (codes.shape[0], len(names)):
        raise ValueError(f"codes {codes.shape} and labels {labels.shape} do not match {len(names)} names")
    attributes: list[Attribute] = []
    skipped: list[str] = []
    for column, name in enumerate(names):
        pos, neg = labels[:, column] == 1, labels[:, column] == -1
        if pos.sum() < min_count or neg.sum() < min_count:
            skipped.append(f"{name} ({int(pos.sum())} with, {int(neg.sum())} without)")
            continue
        direction = codes[pos].mean(0) - codes[neg].mean(0)
        norm = float(np.linalg.norm(direction))
        unit = direction / norm if norm > 0 else direction
        projection = {
            side: {"mean": float((codes[mask] @ unit).mean()), "std": float((codes[mask] @ unit).std())}
            for side, mask in (("positive", pos), ("negative", neg))
        }
        attributes.append(
            Attribute(
                name=name,
                direction=direction.astype(np.float32),
                positive=int(pos.sum()),
                negative=int(neg.sum()),
                projection=projection,
                source=dict(source or {}),
            )
        )
    return attributes, skipped


@dataclass
class ComputeResult:
    folder: Path
    computed: list[str]
    skipped: list[str]
    images: int
    unreadable: int


def _decode(job: tuple[str, int, int, float, Any]) -> np.ndarray | None:
    """One image as the model sees it: its largest face aligned to ``template`` (a face model; ``None`` when no
    face is found), else the centre crop; ``None`` when unreadable."""
    path, resolution, channels, crop, template = job
    try:
        if template is None:
            return load_image(path, resolution, channels, crop)
        return aligned_face(path, resolution, template)
    except (ImageReadError, UserError):
        return None


@contextlib.contextmanager
def _pool(workers: int, count: int) -> Iterator[Any]:
    if workers <= 1 or count < 64:
        yield None
        return
    method = "fork" if sys.platform == "linux" else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        yield pool


def encode_labelled(
    net: Model, data: LabelledImages, workers: int = 2, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of every readable image and their label rows; also the number of unreadable files (photos without a
    face among them, for a face model, whose photos are aligned as :meth:`Model.prepare` aligns them)."""
    r, c, crop = net.resolution, net.channels, net.bundle.config.crop
    template = net.landmark_template if net.aligns_faces else None
    codes: list[np.ndarray] = []
    keep: list[np.ndarray] = []
    unreadable = 0
    total = len(data)
    with _pool(workers, total) as pool, or_silent(progress).task("encoding", total, minimum=256) as task:
        encoder = None
        for start in range(0, total, CHUNK):
            stop = min(total, start + CHUNK)
            if data.raw is not None:
                images: list[np.ndarray | None] = [
                    prepare_pil(Image.fromarray(raw, "L"), r, c, crop) for raw in data.raw[start:stop]
                ]
            else:
                jobs = [(str(p), r, c, crop, template) for p in data.paths[start:stop]]
                images = list(pool.imap(_decode, jobs, chunksize=16)) if pool else [_decode(j) for j in jobs]
            ok = np.array([image is not None for image in images])
            unreadable += int((~ok).sum())
            if ok.any():
                batch = np.stack([image for image in images if image is not None])
                encoder = encoder or net.graph("encoder", bulk=True)
                codes.append(encoder.run(to_model_input(batch), net.batch_size))
                keep.append(np.flatnonzero(ok) + start)
            task.advance(stop - start)
    if not codes:
        raise UserError(f"none of the {total} images could be read")
    return np.concatenate(codes), data.labels[np.concatenate(keep)], unreadable


def compute_into_bundle(
    net: Model,
    data_path: Path,
    labels: Path | None,
    out: Path | None,
    *,
    replace: bool = False,
    min_count: int = 10,
    workers: int = 2,
    progress: Progress | None = None,
) -> ComputeResult:
    """Compute directions for the labelled images in ``data_path`` and store them in the bundle (or a copy)."""
    target_folder(net, out)  # refuse an unwritable target before the long part
    data = labelled_images(data_path, labels)
    codes, rows, unreadable = encode_labelled(net, data, workers, progress)
    source = {"data": data.description, "split": "all", "images": len(codes), "labels": data.kind}
    found, skipped = compute_attributes(codes, rows, data.names, source=source, min_count=min_count)
    if not found:
        raise UserError(f"no attribute has {min_count} images on both sides (skipped: {', '.join(skipped)})")
    folder = write_attributes(net, net.attributes.merged(found, replace=replace), out)
    return ComputeResult(folder, [a.name for a in found], skipped, len(codes), unreadable)


def write_attributes(net: Model, attributes: AttributeSet, out: Path | None) -> Path:
    """Store ``attributes`` in the bundle (``out`` None) or in a copy of it at ``out``; returns the folder.

    Either way :func:`aaae_cli.bundle.writer.save_bundle` builds the new bundle complete beside the target and
    swaps it in: a kill at any moment leaves the old bundle or the new one, both with a manifest that matches.
    """
    target = target_folder(net, out)
    save_bundle(net.bundle, net.bundle.config, target, attributes)
    return target


def target_folder(net: Model, out: Path | None) -> Path:
    """Where new attributes go: ``out`` (a new, empty folder) or the bundle itself when it is writable."""
    bundle = net.bundle
    if out is not None:
        out = out.expanduser()
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"{out}: exists and is not an empty folder")
        if not out.parent.is_dir():
            raise UserError(f"{out}: folder {out.parent} does not exist")
        return out
    given = Path(bundle.source).expanduser()
    if not given.is_dir() or given.resolve() != bundle.path.resolve():
        raise UserError(
            f"{bundle.source} is a built-in or downloaded model: pass --out DIR to write a copy with the new directions"
        )
    for name in (ATTRIBUTES, CONFIG, CARD, MANIFEST):
        path = bundle.path / name
        if (path.exists() and not path.stat().st_mode & 0o200) or not bundle.path.stat().st_mode & 0o200:
            raise UserError(f"{bundle.path}: the bundle folder is not writable; pass --out DIR")
    folder = bundle.path.resolve()  # a link to the bundle stays a link: the folder it names is swapped
    if not os.access(folder.parent, os.W_OK):  # the new bundle is built beside the old one
        raise UserError(f"{bundle.path}: its parent folder {folder.parent} is not writable; pass --out DIR")
    return folder
