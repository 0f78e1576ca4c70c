"""What several commands share: option aliases (``--model``, ``--device``, ``--crop``, ...) and two helpers.

One definition per option, so ``--model`` means and says the same in every command that takes it (as the
``hf`` CLI's ``_cli_utils.py``). Options that only one command has, or whose help differs between commands
(``--out``, ``--json``, ``--seed``), stay beside their command.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aaae_cli.errors import UserError
from aaae_cli.utils.progress import err

if TYPE_CHECKING:
    from aaae_cli.api import Model

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Built-in model name, bundle folder, or Hugging Face Hub id user/name\\[@revision] "
        "\\[default: $AAAE_MODEL, else the built-in model].",
        show_default=False,
    ),
]
ResolutionOption = Annotated[
    int | None, typer.Option(help="32, 64 or 128 \\[default: 32 for MNIST, else 64].", show_default=False)
]
ChannelsOption = Annotated[
    int | None, typer.Option(help="1 or 3 \\[default: 1 for MNIST, else 3].", show_default=False)
]
CropOption = Annotated[
    float | None,
    typer.Option(
        help="Centre crop, as a fraction of the shorter side \\[default: 140/178 for CelebA, else 1].",
        show_default=False,
    ),
]
CacheDirOption = Annotated[
    Path | None, typer.Option(help="Decoded-dataset cache \\[default: ~/.cache/aaae/datasets].", show_default=False)
]


def command_group(help: str) -> typer.Typer:
    """A sub-command group (``aaae attributes``, ``aaae data``, ...) that behaves as the app does: its command list
    when called bare, ``-h`` as ``--help``, rich markup in help texts."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )


DeviceOption = Annotated[str, typer.Option(help="auto (CUDA when onnxruntime can use it, else CPU), cpu or cuda.")]
ZoomOption = Annotated[int, typer.Option("--zoom", min=1, max=16, help="Enlarge each image N times.")]
RefineOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=50,
        help="Refine each photo's code for N Gauss-Newton steps through the decoder: closer to the photo (face "
        "models weigh the face above hair and background), slower (BENCHMARKS.md, 'The faces model'). 0: the encoder's "
        "code as it is \\[default: 6 for face models, else 0].",
        show_default=False,
    ),
]
CropOption = Annotated[
    float | None,
    typer.Option(
        "--crop",
        min=0.05,
        max=1.0,
        help="Centre crop of input photos, as a fraction of the shorter side, for models without face alignment "
        "or with --align none \\[default: the model's, e.g. 0.79 for faces]; 1 for photos already cropped to the "
        "subject. Single images aaae wrote are never re-cropped.",
        show_default=False,
    ),
]
AlignOption = Annotated[
    str,
    typer.Option(
        "--align",
        help="auto: find faces and align them like the model's training faces (face models), else centre-crop; "
        "face: always; none: the image is already cropped like the training data.",
    ),
]
FaceOption = Annotated[
    int | None,
    typer.Option(
        "--face",
        min=1,
        help="Only this face, numbered from the left (see 'aaae faces PHOTO') \\[default: every face; "
        "the largest for single-image views].",
        show_default=False,
    ),
]
SeparateOption = Annotated[
    Path | None, typer.Option("--separate", help="Also write each image as its own PNG in this folder.")
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Allow the output to replace one of the input images.")
]
MinCountOption = Annotated[int, typer.Option(min=1, help="Skip attributes with fewer images on either side.")]


def load_model(
    model: str | None, device: str, crop: float | None = None, align: str = "auto", face: int | None = None
) -> Model:
    """The ``--model`` with the ``--crop``, ``--align`` and ``--face`` options applied (a bad ``--align`` fails
    now, before any work). Imports the runtime (onnxruntime) only here, when a command runs."""
    from aaae_cli.api import Model

    net = Model.load(model, device=device)
    if crop is not None:
        net.crop = crop
    net.align, net.face = align, face
    net.aligns_faces  # noqa: B018  (refuses a bad --align now, before any work)
    return net


def said(message: str) -> None:
    """What a command did, on stderr (rich markup allowed: escape names with :func:`aaae_cli.utils.terminal.shown`)."""
    err.print(message, highlight=False, soft_wrap=True)


def parse_edits(specs: Sequence[str], strength: float) -> dict[str, float]:
    """``["male", "smiling=-1"]`` -> ``{"male": strength, "smiling": -1.0}``."""
    edits: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not name:
            raise UserError(f"--attr {spec!r}: give an attribute name, optionally with =STRENGTH")
        try:
            edits[name] = float(value) if sep else strength
        except ValueError:
            raise UserError(f"--attr {spec!r}: {value!r} is not a number") from None
    return edits


def parse_sweep(spec: str) -> list[float]:
    """``"-2:2:5"`` -> five strengths from -2 to 2."""
    parts = spec.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UserError(f"--sweep {spec!r}: use START:STOP:COUNT, e.g. -2:2:5") from None
    if not 2 <= count <= 64:
        raise UserError(f"--sweep {spec!r}: COUNT must be between 2 and 64")
    import numpy as np  # here, not at the top: every command imports this module, and --help stays light

    return [float(v) for v in np.linspace(start, stop, count)]
