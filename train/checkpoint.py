"""Checkpoints: one plain dict of tensors and plain data, written atomically, read with
``weights_only=True`` (no pickle of arbitrary objects, so a checkpoint cannot run code)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import atomic_open
from aaae_train.networks import Approximator, ArchConfig, Decoder, Encoder, build_networks

FORMAT = "aaae-checkpoint"
VERSION = 1


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


def slim_checkpoint(checkpoint: dict[str, Any], half: bool = True) -> dict[str, Any]:
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
