"""Refuse to write over an input: ``aaae reconstruct photo.png -o photo.png`` silently replaced the user's photo.

Every command that writes calls :func:`refuse_overwriting_inputs` with its outputs and inputs before any work;
``--overwrite`` says the user means it. The same file is recognised through links and different spellings of
its path. The files of the model bundle a command runs are inputs too, and are never replaced
(:func:`refuse_writing_into_model`): ``aaae sample -o models/digits/sample.png`` broke the bundle's checksums.
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


def _targets(outputs: Iterable[Path | None], folder: Path | None, folder_names: Iterable[str]) -> list[Path]:
    """The existing files the outputs would replace: the output files, and ``folder_names`` inside ``folder``."""
    targets = [Path(p).expanduser() for p in outputs if p is not None]
    if folder is not None:
        targets += [Path(folder).expanduser() / name for name in folder_names]
    return [target for target in targets if target.exists()]


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
    sources = [Path(p).expanduser() for p in inputs]
    for target in _targets(outputs, folder, folder_names):
        for source in sources:
            if _same(target, source):
                raise UserError(
                    f"{target}: is one of the input images and would be replaced; choose another output "
                    "or pass --overwrite"
                )


def refuse_replacing(outputs: Iterable[Path | None], files: Iterable[Path], what: str) -> None:
    """Raise :class:`UserError` if an output is one of ``files`` (``what`` they are, e.g. "the --data file"): for
    inputs no command may replace, ``--overwrite`` or not."""
    sources = [Path(p).expanduser() for p in files]
    for target in _targets(outputs, None, ()):
        if any(_same(target, source) for source in sources):
            raise UserError(f"{target}: is {what} and would be replaced; choose another output")


def refuse_writing_into_model(
    outputs: Iterable[Path | None],
    model_folder: Path,
    folder: Path | None = None,
    folder_names: Iterable[str] = (),
) -> None:
    """Raise :class:`UserError` if an output would replace a file of the model bundle in ``model_folder`` (its
    checksums would no longer match, or a shared download would change), or ``folder`` is the bundle's folder:
    never allowed, ``--overwrite`` or not."""
    model_folder = Path(model_folder)
    if folder is not None and Path(folder).expanduser().is_dir() and _same(Path(folder), model_folder):
        raise UserError(f"{folder}: is the folder of the model bundle; choose another output folder")
    try:
        files = [path for path in model_folder.iterdir() if path.is_file()]
    except OSError:
        return
    targets = _targets(outputs, folder, folder_names)
    refuse_replacing(targets, files, f"a file of the model bundle {model_folder}")
