"""Refuse to write over an input: ``aaae reconstruct photo.png -o photo.png`` silently replaced the user's photo.

The commands that read images and write images (``reconstruct``, ``interpolate``, ``edit``) call
:func:`refuse_overwriting_inputs` with their outputs and inputs before any work; ``--overwrite`` says the user
means it. The same file is recognised through links and different spellings of its path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from aaae_cli.errors import UserError

OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Allow the output to replace one of the input images.")
]


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.expanduser().resolve() == b.expanduser().resolve()


def refuse_overwriting_inputs(
    outputs: Iterable[Path | None],
    inputs: Iterable[Path],
    overwrite: bool,
    folder: Path | None = None,
    folder_names: Iterable[str] = (),
) -> None:
    """Raise :class:`UserError` if an output file is one of ``inputs`` (or, for ``folder``, a file it would
    write there, named ``folder_names``, is), unless ``overwrite``."""
    if overwrite:
        return
    sources = [Path(p) for p in inputs]
    targets = [Path(p) for p in outputs if p is not None]
    if folder is not None:
        targets += [Path(folder).expanduser() / name for name in folder_names]
    for target in targets:
        if not target.exists():
            continue
        for source in sources:
            if _same(target, source):
                raise UserError(
                    f"{target}: is one of the input images and would be replaced; choose another output "
                    "or pass --overwrite"
                )
