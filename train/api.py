"""Python API for training: ``aaae_train.api.train(data, out, **options)``.

    from aaae_train.api import train
    result = train(["data/celeba"], "runs/faces", epochs=50, device="cuda")
    print(result.state.best_val_mse)

The ``aaae train`` command is a thin wrapper over :func:`train_from_cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from aaae_cli.errors import UserError
from aaae_cli.terminal import shown
from aaae_train.loop import TrainResult
from aaae_train.loop import train as _run
from aaae_train.options import TrainOptions


def make_options(data: list[str | Path] | str | Path, out: str | Path, **options: Any) -> TrainOptions:
    """Build :class:`TrainOptions`; data paths become absolute so a run resumes from any folder."""
    paths = [data] if isinstance(data, (str, Path)) else list(data)
    if not paths:
        raise UserError("give at least one data folder or file")
    clean = {k: v for k, v in options.items() if v is not None or k == "max_steps"}
    if clean.get("autoencoder_from"):
        clean["autoencoder_from"] = Path(clean["autoencoder_from"]).expanduser().resolve()
    opts = TrainOptions(data=[Path(p).expanduser().resolve() for p in paths], out=Path(out), **clean)
    opts.validate()
    return opts


def train(
    data: list[str | Path] | str | Path, out: str | Path, console: Console | None = None, **options: Any
) -> TrainResult:
    """Train (or resume) a model; see :class:`aaae_train.options.TrainOptions` for the options."""
    return _run(make_options(data, out, **options), console)


def train_from_cli(options: dict[str, Any], console: Console) -> int:
    """Run ``aaae train`` with the parsed options; returns the exit code."""
    options = dict(options)
    data, out = options.pop("data"), options.pop("out")
    result = train(data, out, console=console, **options)
    state = result.state
    if not result.main_process:
        return 130 if result.interrupted else 0
    if result.interrupted:
        console.print(
            f"stopped at update {state.step + state.approx_step}; checkpoint saved in {shown(result.run)}. "
            "Run the same command to resume."
        )
        return 130
    if result.skipped_files:
        console.print(f"{result.skipped_files} unreadable file(s) were skipped (see the list in the data cache)")
    console.print(
        f"[bold green]done[/]: {state.step} autoencoder steps, {state.approx_step} approximator steps; "
        f"best validation MSE {state.best_val_mse:.5f} (pixels in [0, 1]) at step {state.best_step}.\n"
        f"Model: {shown(result.run / 'best.pt')}   grids: {shown(result.run)}/samples-*.png",
        highlight=False,
    )
    return 0
