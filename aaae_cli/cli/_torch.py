"""Lazy access to the PyTorch side (the ``aaae_train`` package), for the commands that need it.

The light commands never import torch; ``aaae train``, ``export``, ``data pack`` and ``evaluator train`` load
``aaae_train`` through :func:`torch_module` at call time, and a missing PyTorch becomes one clear line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aaae_cli.errors import UserError


def torch_module(module: str = "api") -> ModuleType:
    """``aaae_train.<module>``, imported only by the commands that need it, when they run."""
    try:
        return importlib.import_module(f"aaae_train.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("torch", "onnx", "onnxscript"):
            raise UserError(
                f"this command needs PyTorch and ONNX: pip install 'aaae[train]' ({exc.name} is missing)"
            ) from None
        raise
