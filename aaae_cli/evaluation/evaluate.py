"""``aaae eval``: how good a model is, measured the way the paper and its peers measure it.

1. Reconstruction: mean squared error per pixel on held-out images, pixels in [0, 1] and in [-1, 1].
2. Sample quality in the feature space of an evaluator classifier the project trains and ships as ONNX
   (digits: MNIST classifier; faces: CelebA 40-attribute classifier): the Frechet distance between the
   features of generated and held-out real images ("evaluator FD", never called FID), and for a
   multi-class evaluator the Inception-score analogue (the ALICE protocol), with the held-out real
   images' score as the ceiling. With an Inception judge (``aaae eval --fid``), also the paper's FID and KID
   (:mod:`aaae_cli.evaluation.fid`), beside the real-vs-real floor.
3. Baselines in the same run: the same decoder sampled from a single Gaussian and from a 10-component
   full-covariance mixture fitted to the training codes (the RAE paper's ex-post densities).
4. Edits: per attribute, the share of held-out images without it that the evaluator reads as having
   it after ``edit`` at strength 1 (and the reverse for strength -1), and how much the other
   attributes' probabilities move.

Held-out images: with ``--split val`` (default) the same hash split that ``aaae train`` held out of the
data (so pass the training data); with ``--split all`` every image of the data (an independent test set).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aaae_cli.api import Model
from aaae_cli.bundle.safe_json import check, load_json
from aaae_cli.data.sources import SourceImages, detect_source, held_out, key_prefix, read_source
from aaae_cli.errors import UserError
from aaae_cli.evaluation.fid import (
    FeatureStats,
    InceptionJudge,
    batches,
    distances,
    load_stats,
    real_stats,
    save_stats,
)
from aaae_cli.evaluation.metrics import GaussianDensity, GaussianMixture, frechet_distance_between, inception_score
from aaae_cli.images import to_model_input
from aaae_cli.runtime import check_declared, check_returned, create_session, run_session
from aaae_cli.utils.progress import Progress, Task, or_silent

EVALUATOR_FILE, EVALUATOR_CARD = "evaluator.onnx", "evaluator.json"


# ---------------------------------------------------------------- evaluators

EVALUATOR_SCHEMA = {"task": str, "classes": [str], "kind": str, "preprocessing": {"resolution": int, "channels": int}}


class Evaluator:
    """An evaluator classifier (ONNX): images -> (logits, features)."""

    def __init__(self, folder: Path, device: str = "auto") -> None:
        card_path, graph_path = folder / EVALUATOR_CARD, folder / EVALUATOR_FILE
        if not card_path.is_file() or not graph_path.is_file():
            raise UserError(f"{folder}: not an evaluator folder (needs {EVALUATOR_CARD} and {EVALUATOR_FILE})")
        self.folder = folder
        self.card = load_json(card_path.read_bytes(), str(card_path), 1 << 20)  # bounded, finite (issue #13)
        check(self.card, EVALUATOR_SCHEMA, str(card_path))
        for key in ("task", "classes", "kind"):
            if key not in self.card:
                raise UserError(f"{card_path}: no {key!r}; not an evaluator card")
        self.label = f"evaluator {folder.name}"
        self.session = create_session(graph_path.read_bytes(), device, self.label)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 2:
            raise UserError(f"{self.label}: expected one input and two outputs, found {len(inputs)} and {len(outputs)}")
        self.input_name = inputs[0].name
        check_declared(inputs[0], self.label, "input")
        self.output_shapes = [check_declared(output, self.label, "output") for output in outputs]

    @property
    def name(self) -> str:
        return str(self.card["task"])

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])

    @property
    def multilabel(self) -> bool:
        return self.card["kind"] == "multilabel"

    def run(self, images: np.ndarray, batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
        """uint8 NHWC images -> (probabilities, features)."""
        probs, feats = [], []
        for start in range(0, len(images), batch):
            chunk = to_model_input(images[start : start + batch])
            outputs = run_session(self.session, {self.input_name: chunk}, self.label)
            logits, features = (
                check_returned(value, len(chunk), shape, self.label)
                for value, shape in zip(outputs, self.output_shapes, strict=True)
            )
            probs.append(1 / (1 + np.exp(-logits)) if self.multilabel else _softmax(logits))
            feats.append(features)
        return np.concatenate(probs), np.concatenate(feats)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


def evaluator_roots() -> list[Path]:
    import aaae_models

    return [aaae_models.ROOT]


def find_evaluator(spec: str | None, model: Model, device: str) -> Evaluator | None:
    """``spec`` (a folder, or a built-in evaluator name), else the built-in one matching the model."""
    if spec:
        path = Path(spec).expanduser()
        if path.is_dir():
            return Evaluator(path, device)
        for root in evaluator_roots():
            if (root / f"evaluator-{spec}").is_dir():
                return Evaluator(root / f"evaluator-{spec}", device)
        raise UserError(f"--evaluator {spec}: no such evaluator folder or built-in evaluator")
    for root in evaluator_roots():
        for folder in sorted(root.glob("evaluator-*")):
            card = json.loads((folder / EVALUATOR_CARD).read_text()) if (folder / EVALUATOR_CARD).is_file() else {}
            prep = card.get("preprocessing", {})
            same_input = (prep.get("resolution"), prep.get("channels")) == (model.resolution, model.channels)
            if same_input and set(card.get("classes", [])) & {a.name for a in model.attributes.values()}:
                return Evaluator(folder, device)
    return None


# ---------------------------------------------------------------- held-out data


@dataclass
class EvalData:
    """Held-out images (uint8 NHWC), their labels if known, and training images for the baselines."""

    held_out: np.ndarray
    training: np.ndarray
    labels: np.ndarray | None = None
    label_names: list[str] = field(default_factory=list)
    description: str = ""
    held_out_keys: list[str] = field(default_factory=list)  # which images, for the real statistics' cache key
    training_keys: list[str] = field(default_factory=list)


def load_eval_data(
    data: Path,
    labels: Path | None,
    model: Model,
    split: str,
    limit: int,
    fit_limit: int,
    seed: int,
    *,
    progress: Progress | None = None,
) -> EvalData:
    """Read ``data`` as the model's training read it (keys, labels, split) and frame its images as the model
    frames images (a bar while they are read: minutes for tens of thousands of images, or for faces to find)."""
    images = read_as_trained(data, labels, model)
    if split == "val":
        is_val = held_out(images.keys, _val_fraction(model))
        held, fit = np.flatnonzero(is_val).tolist(), np.flatnonzero(~is_val).tolist()
    elif split == "all":
        held, fit = list(range(len(images))), []
    else:
        raise UserError("--split must be val or all")
    if not held:
        raise UserError(f"{data}: no held-out images in it (split {split!r}, fraction {_val_fraction(model)})")
    rng = np.random.default_rng(seed)
    held = sorted(rng.choice(held, size=min(limit, len(held)), replace=False).tolist())
    fit = sorted(rng.choice(fit, size=min(fit_limit, len(fit)), replace=False).tolist()) if fit else []
    loader = _loader(images, model)
    with or_silent(progress).task("reading images", len(held) + len(fit)) as task:
        held, held_images = _load_framed(held, loader, task)
        fit, fit_images = _load_framed(fit, loader, task)
    if not held:
        raise UserError(f"{data}: no held-out image could be framed as the model frames images (no face found?)")
    if not fit:
        fit_images = np.zeros((0, model.resolution, model.resolution, model.channels))
    label_rows = images.labels
    held_labels = label_rows[held] if label_rows is not None else None
    keys = [str(images.keys[i]) for i in held]
    description = f"{data} ({split} split)"
    return EvalData(
        held_images,
        fit_images.astype(np.uint8),
        held_labels,
        images.attributes,
        description,
        keys,
        [str(images.keys[i]) for i in fit],
    )


def _val_fraction(model: Model) -> float:
    return float(model.config.get("training", {}).get("data", {}).get("val_fraction") or 0.05)


def read_as_trained(data: Path, labels: Path | None, model: Model) -> SourceImages:
    """The images of ``data`` keyed as the model's training keyed them (:mod:`aaae_cli.data.sources`; the bundle's
    ``training.data.sources`` says whether keys were "folder/name"); of a CelebA folder, the images its attribute
    file lists."""
    source = detect_source(data, "auto", labels)
    if source.kind == "archive":
        raise UserError(f"{data}: a prepared archive; give the image folders or MNIST file it was made of")
    trained_sources = int(model.config.get("training", {}).get("data", {}).get("sources", 1))
    images = read_source(source, key_prefix(source, trained_sources))
    return images.listed() if source.kind == "celeba" else images


def _loader(images: SourceImages, model: Model) -> Callable[[int], np.ndarray]:
    """The image at an index, framed exactly as the model frames photos (``model.prepare``: face models align the
    face), so real and generated images are compared in one framing."""
    if images.raw is not None:
        raw = images.raw
        return lambda i: model.prepare(Image.fromarray(raw[i], "L"))
    return lambda i: model.prepare(images.paths[i])


def _load_framed(indices: list[int], loader: Callable[[int], np.ndarray], task: Task) -> tuple[list[int], np.ndarray]:
    """The images at ``indices`` that can be framed (a face model skips photos with no face it can align)."""
    kept, images = [], []
    for i in indices:
        task.advance()
        try:
            images.append(loader(i))
        except UserError:
            continue
        kept.append(i)
    return kept, np.stack(images) if images else np.zeros((0,), dtype=np.uint8)


def training_photos(data: Path, labels: Path | None, model: Model, limit: int, seed: int) -> list[Path]:
    """Up to ``limit`` image files of ``data``'s training split (a seeded choice), for calibrating photo edits."""
    images = read_as_trained(data, labels, model)
    if images.raw is not None:
        raise UserError(f"{data}: photo calibration needs image files, not an MNIST idx file")
    is_val = held_out(images.keys, _val_fraction(model))
    fit = [p for p, val in zip(images.paths, is_val, strict=True) if not val]
    rng = np.random.default_rng(seed)
    return [fit[i] for i in sorted(rng.choice(len(fit), size=min(limit, len(fit)), replace=False))]


# ---------------------------------------------------------------- the evaluation


def _decoded(model: Model, codes: np.ndarray, batch: int = 500) -> Iterator[np.ndarray]:
    for start in range(0, len(codes), batch):
        yield model.decode(codes[start : start + batch])


def _judged(
    images: Iterator[np.ndarray],
    evaluator: Evaluator | None,
    real_features: np.ndarray | None,
    inception: InceptionJudge | None = None,
    fid_real: FeatureStats | None = None,
    task: Task | None = None,
) -> tuple[dict, FeatureStats | None]:
    """What the judges read of generated images, decoded once: the evaluator's FD and IS, and with an Inception
    judge FID and KID against ``fid_real``; and the images' Inception statistics."""
    probs, feats, stats = [], [], None
    for chunk in images:
        if evaluator is not None:
            chunk_probs, chunk_feats = evaluator.run(chunk)
            probs.append(chunk_probs)
            feats.append(chunk_feats)
        if inception is not None:
            rows = inception.features(chunk)
            stats = stats or FeatureStats.empty(rows.shape[1])
            stats.add(rows)
            if task is not None:
                task.advance(len(chunk))
    out = _quality(evaluator, np.concatenate(probs), np.concatenate(feats), real_features) if probs else {}
    if stats is not None and fid_real is not None:
        out.update(distances(fid_real, stats))
    return out, stats


def _quality(evaluator: Evaluator, probabilities: np.ndarray, features: np.ndarray, real_features: np.ndarray) -> dict:
    out: dict[str, Any] = {"evaluator_fd": round(frechet_distance_between(features, real_features), 3)}
    if not evaluator.multilabel:
        score, spread = inception_score(probabilities)
        counts = np.bincount(probabilities.argmax(1), minlength=len(evaluator.classes)) / len(probabilities)
        out.update(
            evaluator_is=round(score, 3),
            evaluator_is_std=round(spread, 3),
            class_shares=[round(float(v), 4) for v in counts],
        )
    return out


SAMPLERS = ("approximator", "gaussian", "gmm")  # the model's sampler and the two density baselines


@dataclass(frozen=True)
class EvalSettings:
    """What :func:`evaluate` (``aaae eval``) measures, on how many images, and where."""

    samples: int = 10_000  # codes drawn per sampler (the approximator and each baseline)
    split: str = "val"  # val: the images training held out of the data; all: every image
    held_out_limit: int = 10_000  # at most this many held-out images
    fit_limit: int = 20_000  # at most this many training images the baselines are fitted to
    fid_reference: int = 10_000  # FID's real side: at most this many of those training images (else the held-out)
    evaluator: str | None = None  # evaluator folder or built-in name; None: the one matching the model
    components: int = 10  # components of the Gaussian-mixture baseline
    edit_images: int = 200  # images edited per attribute and direction
    seed: int = 0  # for sampling and for picking images
    device: str = "auto"  # where the evaluator runs
    temperatures: tuple[float, ...] = ()  # also approximator samplers at these noise temperatures
    samplers: tuple[str, ...] = SAMPLERS  # which of them to judge (FID takes minutes per sampler on a CPU)

    def __post_init__(self) -> None:
        """Wrong settings are refused when made, before any image is read or network converted."""
        if self.samples < 2:
            raise UserError(f"-n must be at least 2 (got {self.samples})")
        if any(not (t > 0) for t in self.temperatures):
            raise UserError(f"temperatures must be > 0 (got {', '.join(f'{t:g}' for t in self.temperatures)})")
        unknown = sorted(set(self.samplers) - set(SAMPLERS))
        if unknown or not self.samplers:
            raise UserError(f"samplers: {', '.join(unknown) or 'none'}; choose from {', '.join(SAMPLERS)}")


def _judged_samplers(names: dict[str, np.ndarray], wanted: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The drawn samplers that ``wanted`` names (``gmm`` for ``gmmK``; ``approximator@t`` rows always, as asked
    for by their temperature). All are drawn first, so a sampler's codes do not depend on which are judged."""
    kind = {name: "gmm" if name.startswith("gmm") else name for name in names}
    return {n: c for n, c in names.items() if "@" in n or kind[n] in wanted}


def evaluate(
    model: Model,
    data: Path,
    settings: EvalSettings | None = None,
    *,
    labels: Path | None = None,
    progress: Progress | None = None,
    inception: InceptionJudge | None = None,
) -> dict[str, Any]:
    """Everything ``aaae eval`` reports on ``data`` (``labels``: its attribute file where it is not inside it), as a
    JSON-ready dict, measured as ``settings`` say (None: :class:`EvalSettings`' defaults).

    ``settings.temperatures`` adds approximator samplers with z ~ N(0, t^2 I) (as ``aaae sample --temperature``),
    reported as ``approximator@t``; the plain ``approximator`` row is always t = 1.

    ``inception`` (FID's network, :mod:`aaae_cli.evaluation.fid`) adds FID and KID of the reconstructions and of
    every sampler against the held-out images, and the floor: the same against as many real training images.
    """
    settings = settings or EvalSettings()
    samples, temperatures, seed = settings.samples, settings.temperatures, settings.seed
    say = or_silent(progress).status
    started = time.perf_counter()
    say("listing images")
    # training images serve the baselines' fit and FID's real side only: not read when neither is measured
    needs_training = inception is not None or bool({"gaussian", "gmm"} & set(settings.samplers))
    fit_limit = settings.fit_limit if needs_training else 0
    eval_data = load_eval_data(
        data, labels, model, settings.split, settings.held_out_limit, fit_limit, seed, progress=progress
    )
    judge = find_evaluator(settings.evaluator, model, settings.device)
    result: dict[str, Any] = {
        "model": model.name,
        "data": eval_data.description,
        "held_out_images": len(eval_data.held_out),
        "evaluator": None if judge is None else {"name": judge.name, "folder": str(judge.folder)},
    }
    say("reconstructing held-out images")
    codes = model.encode(eval_data.held_out)
    recon = np.concatenate(list(_decoded(model, codes)))
    diff = (recon.astype(np.float64) - eval_data.held_out.astype(np.float64)) / 255.0
    result["reconstruction"] = {
        "mse_01": round(float((diff**2).mean()), 6),
        "mse_pm1": round(float((diff**2).mean() * 4), 6),
    }
    real_features = None
    if judge is not None:
        say("evaluator features of real images")
        real_probs, real_features = judge.run(eval_data.held_out)
        if not judge.multilabel:
            result["real_evaluator_is"] = round(inception_score(real_probs)[0], 3)
    fid_real = None
    if inception is not None:
        say("Inception features of real images")
        fid_real = fid_real_side(inception, model, eval_data, settings, or_silent(progress), result)
    result["reconstruction"].update(
        _judged_with_progress(
            batches(recon, 500), codes, "reconstructions", judge, real_features, (inception, fid_real, model), progress
        )
    )
    rng = np.random.default_rng(seed)
    samplers: dict[str, np.ndarray] = {"approximator": model.sample_codes(samples, seed=seed)}
    for t in temperatures:
        samplers[f"approximator@{t:g}"] = model.sample_codes(samples, seed=seed, temperature=t)
    if len(eval_data.training) and {"gaussian", "gmm"} & set(settings.samplers):
        say("fitting the baselines to training codes")
        train_codes = model.encode(eval_data.training)
        samplers["gaussian"] = GaussianDensity(train_codes).sample(samples, rng)
        gmm = GaussianMixture(components=settings.components, seed=seed).fit(train_codes)
        samplers[f"gmm{settings.components}"] = gmm.sample(samples, rng)
        result["baseline_fit"] = {"training_codes": len(train_codes), "gmm_iterations": gmm.iterations_run}
    result["samples"] = {}
    for name, sampled in _judged_samplers(samplers, settings.samplers).items():
        say(f"sampling: {name}")
        judged = _judged_with_progress(
            _decoded(model, sampled), sampled, name, judge, real_features, (inception, fid_real, model), progress
        )
        entry = {"n": samples, **judged}
        if len(codes) >= 2:
            entry["latent_fd"] = round(latent_frechet(sampled, codes), 3)
        result["samples"][name] = entry
    if judge is not None and judge.multilabel and eval_data.labels is not None and len(model.attributes):
        say("editing held-out images")
        result["edits"] = evaluate_edits(model, judge, eval_data, codes, settings.edit_images)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _judged_with_progress(
    images: Iterator[np.ndarray],
    codes: np.ndarray,
    what: str,
    evaluator: Evaluator | None,
    real_features: np.ndarray | None,
    fid: tuple[InceptionJudge | None, FeatureStats | None, Model],
    progress: Progress | None,
) -> dict:
    """:func:`_judged` of the images decoded from ``codes``, with a bar while Inception reads them (minutes for
    10,000 on two cores). Their Inception statistics are cached by the codes, the decoder and the network, so an
    evaluation stopped part-way does not measure again what it had measured."""
    inception, fid_real, model = fid
    if inception is None or fid_real is None:
        return _judged(images, evaluator, real_features)[0]
    path = None
    if inception.cache is not None:
        path = inception.cache / f"generated-{_generated_key(inception, model, codes)}.npz"
    saved = load_stats(path) if path is not None else None
    if saved is not None:
        out = _judged(images, evaluator, real_features)[0] if evaluator is not None else {}
        return {**out, **distances(fid_real, saved), "fid_statistics_cached": True}
    with or_silent(progress).task(f"Inception features: {what}", len(codes), transient=False) as task:
        out, stats = _judged(images, evaluator, real_features, inception, fid_real, task)
    if path is not None and stats is not None:
        save_stats(path, stats)
    return out


def _generated_key(inception: InceptionJudge, model: Model, codes: np.ndarray) -> str:
    """Which generated images these are: the codes, the decoder that made images of them, and the network."""
    digest = hashlib.sha256(np.ascontiguousarray(codes, dtype=np.float32).tobytes())
    digest.update(f"{inception.network} {model.bundle.manifest.get('decoder.onnx', model.path)}".encode())
    return digest.hexdigest()[:32]


def fid_real_side(
    inception: InceptionJudge,
    model: Model,
    data: EvalData,
    settings: EvalSettings,
    progress: Progress,
    result: dict[str, Any],
) -> FeatureStats:
    """FID's real side and, into ``result``, the floor.

    The real side is up to ``settings.fid_reference`` training images (a seeded choice), framed as the model
    frames them, as papers measure FID against the training set; without training images (``--split all``),
    the held-out images. The floor is FID and KID of real images that are not in the reference against it: the
    held-out images (as many as the reconstructions, so the two compare directly), and, where the data has
    enough, as many other training images as there are samples (the floor at the samples' N). Statistics of real
    images are cached by their keys, the network and the framing."""
    framing = {"resolution": model.resolution, "channels": model.channels, **model.config.get("preprocessing", {})}
    if not len(data.training):
        real, cached = real_stats(inception, data.held_out, framing, data.held_out_keys, "held-out images", progress)
        result["fid_real"] = {
            "reference": "held-out images",
            "reference_images": real.count,
            "statistics_cached": cached,
        }
        return real
    order = np.random.default_rng(settings.seed).permutation(len(data.training))
    chosen, rest = order[: settings.fid_reference], order[settings.fid_reference :][: settings.samples]
    keys = [data.training_keys[i] for i in chosen]
    real, cached = real_stats(inception, data.training, framing, keys, "real reference", progress, rows=chosen)
    result["fid_real"] = {"reference": "training images", "reference_images": real.count, "statistics_cached": cached}
    floors = {"held_out": (data.held_out, None, data.held_out_keys)}
    if len(rest) >= 2:
        floors[f"training_{len(rest)}"] = (data.training, rest, [data.training_keys[i] for i in rest])
    for name, (images, rows, image_keys) in floors.items():
        if (len(images) if rows is None else len(rows)) >= 2:
            stats, _ = real_stats(inception, images, framing, image_keys, f"real floor ({name})", progress, rows)
            result["fid_real"][f"floor_{name}"] = {"images": stats.count, **distances(real, stats)}
    return real


def latent_frechet(sampled: np.ndarray, held_out: np.ndarray) -> float:
    """Frechet distance between sampled codes and the held-out images' codes, both standardised per
    dimension by the held-out codes: a measure in the model's own code space that needs no evaluator (so it
    exists for any dataset), comparable between samplers of one model, not across models.

    It sees only means and covariances, which the Gaussian and GMM baselines are fitted to match, so it
    favours them: it can rank approximators, but only an evaluator (image space) can rank the approximator
    against the baselines."""
    mean, std = held_out.mean(0), held_out.std(0) + 1e-8
    return frechet_distance_between((sampled - mean) / std, (held_out - mean) / std)


def evaluate_edits(model: Model, judge: Evaluator, data: EvalData, codes: np.ndarray, limit: int) -> dict[str, Any]:
    """Per attribute: decision flips at strength +1 (images without it) and -1 (images with it)."""
    before, _ = judge.run(np.concatenate(list(_decoded(model, codes))))
    by_name = {c.lower(): i for i, c in enumerate(judge.classes)}
    out: dict[str, Any] = {}
    for attribute in model.attributes.values():
        column = by_name.get(attribute.name.lower())
        if column is None:
            continue
        entry: dict[str, Any] = {}
        for strength, absent in ((1.0, True), (-1.0, False)):
            picked = np.flatnonzero((before[:, column] < 0.5) == absent)[:limit]
            if len(picked) == 0:
                continue
            shift = model.attributes.shift({attribute.name: strength})
            after, _ = judge.run(np.concatenate(list(_decoded(model, codes[picked] + shift[None]))))
            flipped = (after[:, column] >= 0.5) == absent
            others = np.delete(np.abs(after - before[picked]), column, axis=1)
            entry["add" if absent else "remove"] = {
                "images": len(picked),
                "flip_rate": round(float(flipped.mean()), 4),
                "other_attributes_change": round(float(others.mean()), 4),
            }
        out[attribute.name] = entry
    return out
