"""Checkpoints: one plain dict of tensors and plain data, written atomically, read with
``weights_only=True`` (no pickle of arbitrary objects, so a checkpoint cannot run code).

The dict is made and read here only: :func:`training_checkpoint` makes it from the training state,
:func:`restore_training` puts a run back where it was, :func:`restore_autoencoder` and :func:`adopt_autoencoder`
take an autoencoder from one, and export reads it with :func:`load_networks`. Its keys:

- ``format``, ``version``: what :func:`load_checkpoint` checks;
- ``options``, ``arch``: the run's options and the networks' architecture;
- ``state``: a :class:`TrainState` as a dict (phase, counters, best validation error);
- ``data``: the data sources, how images were prepared, the attribute names and the split sizes;
- ``models``, ``ema``, ``optimizers``, ``noise``: the weights, their EMA copies, the optimiser states and the noise
  generator (:meth:`aaae_train.algorithm.AAAETraining.state_dict`).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from aaae_cli.errors import UserError
from aaae_cli.photos.align import FACE_TEMPLATE
from aaae_cli.utils.atomic import atomic_open
from aaae_train.networks import Approximator, ArchConfig, Decoder, Encoder, build_networks

if TYPE_CHECKING:
    from aaae_cli.data.sources import Source
    from aaae_train.algorithm import AAAETraining
    from aaae_train.options import TrainOptions

FORMAT = "aaae-checkpoint"
VERSION = 1


@dataclass
class TrainState:
    """Where a run is; saved in every checkpoint."""

    phase: str = "autoencoder"  # "autoencoder", "approximator" or "done"
    step: int = 0  # autoencoder iterations (Algorithm 1 iterations under the joint schedule)
    epoch: int = 0
    batch_in_epoch: int = 0
    approx_step: int = 0  # approximator rounds of the staged schedule's second phase
    images_seen: int = 0
    best_val_mse: float = math.inf
    best_step: int = -1
    bad_validations: int = 0
    early_stopped: bool = False
    train_seconds: float = 0.0
    autoencoder_from: str | None = None  # the checkpoint the autoencoder came from (--autoencoder-from)


# ---------------------------------------------------------------- files, and the weights export reads


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` to ``path`` via a temporary file and a rename: a crash never leaves half a file, and a
    full disk is one line (the previous checkpoints are intact, so the run resumes once there is space)."""
    try:
        with atomic_open(path, "wb") as handle:
            torch.save({"format": FORMAT, "version": VERSION, **state}, handle)
    except (OSError, RuntimeError) as exc:  # torch's zip writer reports a failed write as a RuntimeError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0][:200]
        with contextlib.suppress(OSError):
            if shutil.disk_usage(Path(path).parent).free < 1 << 20:
                reason = "no space left on the device"
        raise UserError(
            f"{path}: cannot write the checkpoint ({reason}); free some space and run the same command to resume"
        ) from None


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors and plain data only)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint") from None
    except Exception as exc:  # a corrupt or foreign file: torch raises many kinds
        raise UserError(f"{path}: not a readable aaae checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not an aaae checkpoint")
    if state.get("version", 0) > VERSION:
        raise UserError(f"{path}: checkpoint format {state['version']} is newer than this aaae; upgrade aaae")
    return state


def slim_checkpoint(checkpoint: dict[str, Any], *, half: bool = True) -> dict[str, Any]:
    """What export and ``--autoencoder-from`` need of a checkpoint, small enough to carry off a GPU machine: the
    sampling weights (the EMA copy where kept) of the encoder, decoder, approximator and patch discriminator,
    large tensors in float16 (``half``; about 5e-4 relative rounding), no optimizer state. Not resumable."""

    def shrink(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            k: v.half() if half and v.is_floating_point() and v.numel() >= 4096 else v.clone()
            for k, v in tensors.items()
        }

    models = {name: shrink(sampling_weights(checkpoint, name)) for name in ("encoder", "decoder", "approximator")}
    models["discriminator"] = shrink(checkpoint["models"]["discriminator"])
    keep = ("format", "version", "options", "arch", "state", "data")
    return {**{k: checkpoint[k] for k in keep if k in checkpoint}, "models": models, "ema": {}, "slim": True}


def find_checkpoint(run: Path, which: str = "best") -> Path:
    """``run`` itself if it is a checkpoint file, else ``run/best.pt`` (or ``last.pt``)."""
    run = Path(run).expanduser()
    if run.is_file():
        return run
    if not run.is_dir():
        raise UserError(f"{run}: no such run folder or checkpoint")
    if which not in ("best", "last"):
        raise UserError(f"--checkpoint {which!r}: use best or last")
    path = run / f"{which}.pt"
    if not path.is_file():
        raise UserError(f"{run}: no {which}.pt in this folder (is it an 'aaae train' run folder?)")
    return path


def sampling_weights(checkpoint: dict, name: str) -> dict[str, torch.Tensor]:
    """The weights used for sampling: the EMA copy when the run kept one (as ``AAAETraining.export_module``)."""
    ema = checkpoint.get("ema") or {}
    if name in ema:
        return {k.removeprefix("module."): v for k, v in ema[name].items() if k != "n_averaged"}
    return checkpoint["models"][name]


def load_networks(checkpoint: dict) -> tuple[Encoder, Decoder, Approximator]:
    try:
        nets = build_networks(ArchConfig.from_dict(checkpoint["arch"]))
        for name in ("encoder", "decoder", "approximator"):
            getattr(nets, name).load_state_dict(sampling_weights(checkpoint, name))
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise UserError(f"checkpoint does not fit the networks it describes ({type(exc).__name__}: {exc})") from None
    return nets.encoder.eval(), nets.decoder.eval(), nets.approximator.eval()


# ---------------------------------------------------------------- the training checkpoint, made and restored


def data_record(
    opts: TrainOptions, sources: Sequence[Source], attributes: list[str], *, train_images: int, val_images: int
) -> dict[str, Any]:
    """The checkpoint's ``data``: what a run trains on (fixed when it starts). Export reads the sources and the
    preprocessing to prepare the same images again, and the split sizes and attribute names for the model card."""
    preprocessing = {
        "resolution": opts.resolution,
        "channels": opts.channels,
        "crop": opts.crop,
        "align": opts.align,
        **({"landmarks": FACE_TEMPLATE.tolist()} if opts.align == "face" else {}),
        "pixel_range": [-1.0, 1.0],
    }
    return {
        "sources": [{"kind": s.kind, "path": str(s.path)} for s in sources],
        "preprocessing": preprocessing,
        "attributes": attributes,
        "train_images": train_images,
        "val_images": val_images,
        "val_fraction": opts.val_fraction,
    }


def training_checkpoint(
    opts: TrainOptions, state: TrainState, data: dict[str, Any], model: AAAETraining
) -> dict[str, Any]:
    """The checkpoint of a run at ``state`` (what :func:`save_checkpoint` writes): its options and architecture,
    ``state``, ``data`` (:func:`data_record`), and everything of ``model`` a resume needs (weights, EMA copies,
    optimiser states, the noise generator)."""
    return {
        "options": opts.to_dict(),
        "arch": opts.arch().to_dict(),
        "state": asdict(state),
        "data": data,
        **model.state_dict(),
    }


def restore_training(checkpoint: dict[str, Any], model: AAAETraining) -> TrainState:
    """Put ``model`` back where :func:`training_checkpoint` found it; returns the run's state then."""
    model.load_state_dict(checkpoint)
    return TrainState(**checkpoint["state"])


def restore_autoencoder(checkpoint: dict[str, Any], model: AAAETraining) -> None:
    """Load the encoder and decoder (and their EMA copies) of a checkpoint of this run into ``model``: the staged
    schedule goes on from the best autoencoder, not the last."""
    for name in ("encoder", "decoder"):
        getattr(model.nets, name).load_state_dict(checkpoint["models"][name])
        if name in model.ema:
            model.ema[name].load_state_dict(checkpoint["ema"][name])


# ---------------------------------------------------------------- another run's autoencoder (--autoencoder-from)


# What a run that takes another run's autoencoder (--autoencoder-from) reads of its checkpoint besides weights.
PROGRESS_COUNTS = ("step", "epoch", "images_seen", "best_step")


def autoencoder_source(checkpoint: dict[str, Any], where: str) -> tuple[dict, dict, dict]:
    """The architecture, preprocessing and progress (``state``) of a checkpoint whose autoencoder a new run takes,
    each checked for presence and type: a damaged but well-formed checkpoint (a dict of the right format with
    parts missing or of the wrong type) is one :class:`UserError` naming ``where``, not a traceback (issue #23)."""
    data = checkpoint.get("data")
    arch, prep = checkpoint.get("arch"), data.get("preprocessing") if isinstance(data, dict) else None
    state, models = checkpoint.get("state"), checkpoint.get("models")

    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    parts = [
        (isinstance(arch, dict), "its architecture"),
        (
            isinstance(prep, dict)
            and isinstance(prep.get("crop"), int | float)
            and prep.get("align", "none") in ("none", "face"),
            "its preprocessing (crop, align)",
        ),
        (
            isinstance(state, dict)
            and all(whole(state.get(name)) and state[name] >= -1 for name in PROGRESS_COUNTS)
            and isinstance(state.get("best_val_mse"), int | float),
            "its training progress",
        ),
        (
            isinstance(models, dict)
            and all(isinstance(models.get(n), dict) for n in ("encoder", "decoder", "discriminator")),
            "its autoencoder weights",
        ),
    ]
    for ok, what in parts:
        if not ok:
            raise UserError(f"{where}: damaged checkpoint ({what} missing or of the wrong type)")
    assert isinstance(arch, dict) and isinstance(prep, dict) and isinstance(state, dict)
    return arch, prep, state


@dataclass(frozen=True)
class AutoencoderSource:
    """The checkpoint ``--autoencoder-from`` names, read and checked against the new run."""

    given: Path  # the path as given
    path: Path  # the checkpoint file
    weights: dict[str, Any]  # its "models" and "ema" (not its optimiser state)
    progress: dict[str, Any]  # its "state"


def read_autoencoder_source(source: Path, opts: TrainOptions, device: torch.device) -> AutoencoderSource:
    """The checkpoint ``--autoencoder-from source`` names (a run folder's best.pt, or a file), checked against the
    run ``opts`` describe. Damaged parts, another shape, crop or alignment are one :class:`UserError`."""
    path = find_checkpoint(source) if source.is_dir() else source
    if not path.is_file():
        raise UserError(f"--autoencoder-from {source}: no such run folder or checkpoint")
    checkpoint = load_checkpoint(path, device)
    where = f"--autoencoder-from {source}"
    theirs, prep, done = autoencoder_source(checkpoint, where)
    ours = opts.arch().to_dict()
    for key in ("resolution", "channels", "width", "c_dim"):
        if theirs.get(key) != ours[key]:
            raise UserError(
                f"{where}: its {key} is {theirs.get(key)}, this run's is {ours[key]} "
                "(give the same --resolution, --channels and --width)"
            )
    if prep["crop"] != opts.crop:
        raise UserError(f"{where}: trained with --crop {prep['crop']}, this run with {opts.crop}")
    align = prep.get("align", "none")  # checkpoints from before --align are unaligned
    if align != opts.align:
        raise UserError(
            f"{where}: trained with --align {align}, this run with --align {opts.align} (the encoder and "
            "decoder know faces framed one way only; give the same --align)"
        )
    weights = {"models": checkpoint["models"], "ema": checkpoint.get("ema")}
    return AutoencoderSource(source, path, weights, done)


def adopt_autoencoder(source: AutoencoderSource, model: AAAETraining) -> TrainState:
    """Load another run's trained autoencoder (its encoder, decoder and patch discriminator, with the weights it
    samples with as the EMA copies) into ``model``; returns the state of a run that starts at its approximator
    phase with that run's progress, so only the approximator trains."""
    try:
        for name in ("encoder", "decoder", "discriminator"):
            getattr(model.nets, name).load_state_dict(source.weights["models"][name])
            if name in model.ema:  # the weights the source run samples and exports with
                model.ema[name].module.load_state_dict(sampling_weights(source.weights, name))
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        where = f"--autoencoder-from {source.given}"
        raise UserError(f"{where}: its weights do not fit the networks it describes ({reason})") from None
    done = source.progress
    return TrainState(
        phase="approximator",
        step=done["step"],
        epoch=done["epoch"],
        images_seen=done["images_seen"],
        best_val_mse=float(done["best_val_mse"]),
        best_step=done["best_step"],
        autoencoder_from=str(source.path),
    )
