"""Checks of values users pass, shared by the commands and the Python API, each a one-line :class:`UserError`.

numpy's own errors for the same values (``default_rng(-1)``: "expected non-negative integer") were tracebacks
from the command line and ``ValueError`` from the API (issue #13).
"""

from __future__ import annotations

import math
from pathlib import Path

from aaae_cli.errors import UserError

MAX_SEED = 2**63 - 1


def check_seed(seed: int, option: str = "--seed") -> int:
    """A seed numpy accepts: a whole number from 0 to 2**63 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UserError(f"{option} {seed!r}: give a whole number from 0 to {MAX_SEED}")
    return seed


def check_finite(value: float, option: str) -> float:
    if not math.isfinite(value):
        raise UserError(f"{option} {value}: must be a finite number")
    return value


def check_output_parent(path: Path, option: str) -> Path:
    """An output file whose folder exists, checked before a long run rather than after it."""
    path = path.expanduser()
    if path.is_dir():
        raise UserError(f"{option} {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise UserError(f"{option} {path}: folder {path.parent} does not exist")
    return path
