"""``aaae attributes calibrate``: how far "strength 1" of each attribute edit goes (no torch).

The paper's direction for an attribute is the mean code of images with it minus the mean code of those
without. Adding it once moves an average image without the attribute to the average image with it *in
code space*, but what a person (or a classifier) sees in the decoded image is another matter: on faces
a blurry decoder needs twice as far for "male" as for "smiling", and thin attributes (glasses, a
moustache) further still. One fixed strength does not fit all attributes.

Calibration gives each attribute its own ``scale`` (an edit adds ``strength * scale * direction``):
the smallest scale from a fixed ladder at which the attribute classifier (an evaluator shipped with
aaae, or your own) sees the attribute in ``--target`` of the edited images, measured on images of the
*training* split only, so that ``aaae eval`` can still judge the edits on held-out images. Where no
scale on the ladder reaches the target, the scale with the highest flip rate is kept (the smallest
of equals: an edit the classifier never sees is not pushed to the ladder's end, where it mostly
distorts the face) and the attribute is reported as not reaching it. The measured flip rate, the
images used and the evaluator are stored with each attribute in ``attributes.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aaae_cli.errors import UserError
from aaae_cli.evaluation.directions import target_folder, write_attributes
from aaae_cli.evaluation.evaluate import Evaluator, find_evaluator, load_eval_data, training_photos
from aaae_cli.photos.align import Frame
from aaae_cli.utils.progress import Progress, or_silent

if TYPE_CHECKING:
    from aaae_cli.api import Model

# Scales tried, smallest first (1.0 = the paper's plain mean difference).
LADDER = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
# Photo edits: multiples of each attribute's own scale tried (a change added to a real photo needs further).
PHOTO_LADDER = (1.0, 1.125, 1.25, 1.375, 1.5, 1.75, 2.0)


@dataclass
class Calibrated:
    """What calibration found for one attribute."""

    name: str
    scale: float
    flip_rate: float  # share of the calibration images read as having the attribute after the edit
    images: int
    reached: bool


@dataclass
class CalibrationResult:
    folder: Path
    attributes: list[Calibrated] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # attributes the evaluator does not know, or too few images


@dataclass(frozen=True)
class CalibrationSettings:
    """How calibration measures (``aaae attributes calibrate``'s options): which attributes, the flip rate to reach,
    on how many images, and the evaluator that judges."""

    names: tuple[str, ...] = ()  # the attributes to calibrate; (): all of the model's
    target: float = 0.8  # share of edited images the evaluator must read as having the attribute
    images: int = 200  # images edited per attribute and scale
    min_images: int = 20  # an attribute with fewer images lacking it is skipped
    ladder: tuple[float, ...] = ()  # scales tried, smallest first; (): LADDER, or PHOTO_LADDER for photo edits
    evaluator: str | None = None  # attribute classifier: folder or built-in name; None: the one matching the model
    pool: int = 2000  # training images (or photos) the calibration images are picked from
    seed: int = 0  # for picking images
    device: str = "auto"  # where the evaluator runs
    photos: bool = False  # calibrate the scales of photo edits (photo_scale) instead of the model's own edits


@dataclass(frozen=True)
class _Ladder:
    """How one kind of edit is calibrated: the rungs tried, each rung as a scale, and the flip rate at a scale."""

    rungs: Sequence[float]
    scale_of: Callable[[str, float], float]  # (attribute, rung) -> scale
    rate_at: Callable[[str, int, np.ndarray, float], float]  # (attribute, evaluator column, items, scale) -> rate
    what: str = "edits"  # what is edited, for the messages


def _decode_judge(net: Model, judge: Evaluator, codes: np.ndarray, batch: int = 500) -> np.ndarray:
    """The evaluator's probabilities for the decoded ``codes``."""
    probs = [judge.run(net.decode(codes[start : start + batch]))[0] for start in range(0, len(codes), batch)]
    return np.concatenate(probs)


def calibrate_scales(
    net: Model,
    judge: Evaluator,
    codes: np.ndarray,
    settings: CalibrationSettings | None = None,
    *,
    progress: Progress | None = None,
) -> tuple[list[Calibrated], list[str]]:
    """Per attribute, the smallest scale in ``settings.ladder`` (default :data:`LADDER`) whose edits ``judge`` reads
    as present in ``settings.target`` of them.

    ``codes`` are codes of training images; for each attribute the first ``settings.images`` of them that the
    evaluator reads as *lacking* it (in their reconstruction) are edited at each scale in turn.
    """
    settings = settings or CalibrationSettings()
    before = _decode_judge(net, judge, codes)

    def rate_at(name: str, column: int, picked: np.ndarray, scale: float) -> float:
        after = _decode_judge(net, judge, codes[picked] + np.float32(scale) * net.attributes[name].direction[None])
        return float((after[:, column] >= 0.5).mean())

    ladder = _Ladder(settings.ladder or LADDER, lambda _, s: s, rate_at)
    return _ladder_search(net, judge, before, settings, ladder, progress)


def _ladder_search(
    net: Model,
    judge: Evaluator,
    before: np.ndarray,
    settings: CalibrationSettings,
    ladder: _Ladder,
    progress: Progress | None,
) -> tuple[list[Calibrated], list[str]]:
    """For each attribute the judge knows, the first rung of ``ladder`` whose flip rate on the first
    ``settings.images`` items the judge reads as lacking it (``before``: its probabilities) reaches
    ``settings.target``; else the rung with the highest rate."""
    target, images, min_images = settings.target, settings.images, settings.min_images
    if not 0 < target <= 1:
        raise UserError(f"--target must be in (0, 1] (got {target})")
    columns = {c.lower(): i for i, c in enumerate(judge.classes)}
    chosen = [net.attributes.resolve(n) for n in settings.names] if settings.names else list(net.attributes)
    found: list[Calibrated] = []
    skipped: list[str] = []
    for name in chosen:
        column = columns.get(name.lower())
        if column is None:
            skipped.append(f"{name} (the evaluator does not know it)")
            continue
        picked = np.flatnonzero(before[:, column] < 0.5)[:images]
        if len(picked) < min_images:
            skipped.append(f"{name} (only {len(picked)} items without it)")
            continue
        best = Calibrated(name, ladder.scale_of(name, ladder.rungs[0]), -1.0, len(picked), False)
        for rung in ladder.rungs:
            scale = ladder.scale_of(name, rung)
            rate = ladder.rate_at(name, column, picked, scale)
            if rate >= target:
                best = Calibrated(name, scale, rate, len(picked), True)
                break
            if rate > best.flip_rate:
                best = Calibrated(name, scale, rate, len(picked), False)
        mark = "" if best.reached else f" (target {target:.0%} not reached)"
        or_silent(progress).message(
            f"{name}: scale {best.scale:g}, {best.flip_rate:.0%} of {best.images} {ladder.what} read as present{mark}"
        )
        found.append(best)
    return found, skipped


def calibrate_photo_scales(
    net: Model,
    judge: Evaluator,
    photos: Sequence[Path],
    settings: CalibrationSettings | None = None,
    *,
    progress: Progress | None = None,
) -> tuple[list[Calibrated], list[str]]:
    """Per attribute, the smallest multiple in ``settings.ladder`` (default :data:`PHOTO_LADDER`) of its scale at
    which photo edits (the model's change added to the photo, as ``aaae edit`` makes them) are read as having it by
    ``judge`` in ``settings.target`` of the photos it reads as lacking it. Judged in the model's frame of each photo;
    ``Calibrated.scale`` is the photo scale (multiple x scale)."""
    loaded = []
    for path in photos:
        try:
            photo = net.load_photo(path)
            loaded.append((photo.pixels, net.frames(photo)[0]))
        except UserError:
            continue  # unreadable, or no face
    if not loaded:
        raise UserError("none of the calibration photos could be read (or none has a face)")
    return calibrate_photo_edits(net, judge, loaded, settings, progress=progress)


def calibrate_photo_edits(
    net: Model,
    judge: Evaluator,
    loaded: Sequence[tuple[np.ndarray, Frame]],
    settings: CalibrationSettings | None = None,
    *,
    progress: Progress | None = None,
) -> tuple[list[Calibrated], list[str]]:
    """:func:`calibrate_photo_scales` on photos already read, each with the frame of its face: (pixels, frame)."""
    from aaae_cli.photos.edit import EditScope, apply_changes, frame_changes, model_view

    settings = settings or CalibrationSettings()
    before = judge.run(np.stack([model_view(p, f, net.resolution) for p, f in loaded]))[0]

    def rate_at(name: str, column: int, picked: np.ndarray, scale: float) -> float:
        shift = (np.float32(scale) * net.attributes[name].direction).astype(np.float32)
        edited = []
        for i in picked:
            pixels, frame = loaded[i]
            scope = EditScope.of({name: float(np.sign(scale)) or 1.0})
            changed = apply_changes(pixels, frame_changes(net, pixels, [frame], shift, [1.0], scope=scope)[0])
            edited.append(model_view(changed, frame, net.resolution))
        return float((judge.run(np.stack(edited))[0][:, column] >= 0.5).mean())

    def scale_of(name: str, multiple: float) -> float:
        return float(multiple * net.attributes[name].scale)

    ladder = _Ladder(settings.ladder or PHOTO_LADDER, scale_of, rate_at, "photo edits")
    return _ladder_search(net, judge, before, settings, ladder, progress)


def calibrate_into_bundle(
    net: Model,
    data: Path,
    settings: CalibrationSettings | None = None,
    *,
    labels: Path | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Calibrate the bundle's attribute scales on training-split images of ``data`` (``labels``: its attribute file
    where it is not inside it) as ``settings`` say; write them back (or into a copy of the bundle at ``out``).

    ``settings.photos``: calibrate the scales of photo edits (``photo_scale``) instead, on the training photos
    themselves edited as ``aaae edit`` edits photos (faces found and aligned, the change added at the photo's
    resolution).
    """
    settings = settings or CalibrationSettings()
    if not len(net.attributes):
        raise UserError(f"{net.name}: the model has no attribute directions to calibrate")
    target_folder(net, out)  # refuse an unwritable target before the long part
    judge = find_evaluator(settings.evaluator, net, settings.device)
    if judge is None:
        raise UserError("no evaluator classifier matches this model's attributes: pass --evaluator")
    if settings.photos:
        paths = training_photos(data.expanduser(), labels, net, settings.pool, settings.seed)
        found, skipped = calibrate_photo_scales(net, judge, paths, settings, progress=progress)
    else:
        eval_data = load_eval_data(
            data.expanduser(), labels, net, "val", 1, settings.pool, settings.seed, progress=progress
        )
        if not len(eval_data.training):
            raise UserError(f"{data}: no training-split images to calibrate on")
        codes = net.encode(eval_data.training)
        found, skipped = calibrate_scales(net, judge, codes, settings, progress=progress)
    if not found:
        raise UserError(f"nothing to calibrate (skipped: {', '.join(skipped)})")
    folder = store_calibration(net, found, judge.name, settings.target, out, photos=settings.photos)
    return CalibrationResult(folder, found, skipped)


def store_calibration(
    net: Model,
    found: Sequence[Calibrated],
    judge_name: str,
    target: float,
    out: Path | None,
    *,
    photos: bool,
    setting: str | None = None,
) -> Path:
    """Write calibrated scales (``photo_scale`` when ``photos``) and how they were measured into the bundle (or
    a copy at ``out``); returns the folder."""
    updated = []
    by_name = {c.name: c for c in found}
    for name, attribute in net.attributes.items():
        if name in by_name:
            result = by_name[name]
            if photos:
                attribute.photo_scale = result.scale
            else:
                attribute.scale = result.scale
            record = {
                "evaluator": judge_name,
                "split": "training",
                "images": result.images,
                "target_flip_rate": target,
                "flip_rate": round(result.flip_rate, 4),
                "reached": result.reached,
                **({"setting": setting} if setting else {}),
            }
            attribute.source = {**attribute.source, ("photo_calibration" if photos else "calibration"): record}
        updated.append(attribute)
    return write_attributes(net, net.attributes.merged(updated), out)


def calibration_summary(result: CalibrationResult) -> dict[str, Any]:
    """JSON-ready summary of a calibration."""
    return {
        "folder": str(result.folder),
        "attributes": {
            c.name: {"scale": c.scale, "flip_rate": c.flip_rate, "images": c.images, "reached": c.reached}
            for c in result.attributes
        },
        "skipped": result.skipped,
    }
