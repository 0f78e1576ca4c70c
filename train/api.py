"""Python API for training: ``aaae_train.api.train(data, out, **options)``.

    from aaae_train.api import train
    result = train(["data/celeba"], "runs/faces", epochs=50, device="cuda")
    print(result.state.best_val_mse)

The ``aaae train`` command (:mod:`aaae_cli.cli.train`) is a thin wrapper over :func:`train`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aaae_cli.utils.progress import Progress
from aaae_train.loop import TrainResult
from aaae_train.loop import train as _run
from aaae_train.options import TrainOptions, make_options

__all__ = ["TrainOptions", "TrainResult", "make_options", "train"]


def train(
    data: list[str | Path] | str | Path, out: str | Path, report: Progress | None = None, **options: Any
) -> TrainResult:
    """Train (or resume) a model; see :class:`aaae_train.options.TrainOptions` for the options. ``report`` (a
    :class:`aaae_cli.utils.progress.Progress`; silent by default) hears what the run does; it is not called
    ``progress`` here because that is the option that turns the bars on or off."""
    return _run(make_options(data, out, **options), report)
