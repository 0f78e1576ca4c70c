"""The ``aaae`` command line: thin typer wrappers over the Python API.

Light commands run on onnxruntime and never import torch; ``train`` (and ``export``) import
:mod:`aaae_train` lazily, inside the command, so ``aaae --help`` stays fast and torch-free.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aaae_cli import __version__, calibrate_command, commands, edit_command, eval_command, studio_command
from aaae_cli.errors import UserError
from aaae_cli.interrupts import treat_sigterm_like_ctrl_c
from aaae_cli.terminal import shown
from aaae_cli.torch_side import torch_module
from aaae_cli.usage import Abort, ClickException, NoArgsIsHelpError, quiet_numpy_warnings, usage_error_line
from aaae_train.options import TrainOptions

_DEFAULT = {f.name: f.default for f in fields(TrainOptions)}  # one source of truth for defaults

app = typer.Typer(
    name="aaae",
    help="Adversarially Approximated Autoencoders: sample, reconstruct, interpolate and edit images, "
    "and train your own models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
err = Console(stderr=True, emoji=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aaae {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Adversarially Approximated Autoencoders (Xu, Keshmiri & Wang, arXiv 1902.05581)."""


@app.command(
    epilog="Examples:\n\n"
    "  aaae train ~/photos --out runs/photos                    # a folder of images, 64x64 RGB\n\n"
    "  aaae train data/celeba --out runs/faces --epochs 50      # images/ + list_attr_celeba.txt\n\n"
    "  aaae train data/celeba --align face --hflip --out runs/faces  # faces aligned as photos are\n\n"
    "  aaae train faces.zip --out runs/faces --max-minutes 30   # a prepared archive (python -m aaae_train.archive)\n\n"
    "  aaae train train-images-idx3-ubyte.gz --out runs/digits  # MNIST idx (32x32 grayscale)\n\n"
    "  torchrun --nproc_per_node 4 -m aaae_cli train data/celeba --out runs/faces  # 4 GPUs\n\n"
    "  aaae train data/celeba --out runs/faces-big --autoencoder-from runs/faces --approx-hidden 1024"
    "  # a larger sampler only\n\n"
    "Run the same command again to resume an interrupted run.",
)
def train(
    data: Annotated[
        list[Path],
        typer.Argument(help="Image folder(s), a CelebA folder (with list_attr_celeba.txt) or MNIST idx file(s)."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (options, metrics, grids, checkpoints).")],
    dataset: Annotated[str, typer.Option(help="auto, folder, celeba, mnist or archive.")] = _DEFAULT["dataset"],
    labels: Annotated[Path | None, typer.Option(help="CelebA attribute file, if not inside the data folder.")] = None,
    resolution: Annotated[
        int | None, typer.Option(help="32, 64 or 128 \\[default: 32 for MNIST, else 64].", show_default=False)
    ] = None,
    channels: Annotated[
        int | None, typer.Option(help="1 or 3 \\[default: 1 for MNIST, else 3].", show_default=False)
    ] = None,
    crop: Annotated[
        float | None,
        typer.Option(
            help="Centre crop, as a fraction of the shorter side \\[default: 140/178 for CelebA, else 1].",
            show_default=False,
        ),
    ] = None,
    align: Annotated[
        str,
        typer.Option(
            help="face: find each image's face and align it as 'aaae edit' aligns photos (faces only; images "
            "without a face are skipped); none: the centre crop."
        ),
    ] = _DEFAULT["align"],
    width: Annotated[float, typer.Option(help="Channel multiplier; 1.0 = the paper's networks.")] = _DEFAULT["width"],
    epochs: Annotated[int, typer.Option(help="Autoencoder epochs (early stopping may end sooner).")] = _DEFAULT[
        "epochs"
    ],
    c_dim: Annotated[int, typer.Option(help="Size of the code c (the paper: 128).")] = _DEFAULT["c_dim"],
    z_dim: Annotated[int, typer.Option(help="Size of the approximator's noise z (the paper: 64).")] = _DEFAULT["z_dim"],
    batch_size: Annotated[int, typer.Option(help="Images per step (per process under torchrun).")] = _DEFAULT[
        "batch_size"
    ],
    schedule: Annotated[
        str, typer.Option(help="staged: autoencoder, then approximator (default); joint: Algorithm 1 as written.")
    ] = _DEFAULT["schedule"],
    approx_steps: Annotated[int, typer.Option(help="Approximator steps after the autoencoder (staged).")] = _DEFAULT[
        "approx_steps"
    ],
    lr: Annotated[
        float, typer.Option(help="Adam learning rate of the autoencoder and patch discriminator.")
    ] = _DEFAULT["lr"],
    approx_lr: Annotated[
        float, typer.Option(help="Adam learning rate of the approximator and latent critic (paper: 1e-4).")
    ] = _DEFAULT["approx_lr"],
    lambda_adv: Annotated[float, typer.Option(help="Weight of the patch-discriminator loss (lambda1).")] = _DEFAULT[
        "lambda_adv"
    ],
    approx_k: Annotated[int, typer.Option(help="Approximator rounds per iteration (joint schedule).")] = _DEFAULT[
        "approx_k"
    ],
    critic_steps: Annotated[
        int, typer.Option(help="Latent-critic updates per approximator update (paper: 1).")
    ] = _DEFAULT["critic_steps"],
    standardize_codes: Annotated[
        bool, typer.Option(help="Let the approximator work on standardised codes.")
    ] = _DEFAULT["standardize_codes"],
    approx_hidden: Annotated[
        int, typer.Option(help="Units per hidden layer of the approximator and latent critic.")
    ] = _DEFAULT["approx_hidden"],
    approx_layers: Annotated[int, typer.Option(help="Hidden layers of the approximator and latent critic.")] = _DEFAULT[
        "approx_layers"
    ],
    approx_components: Annotated[
        int,
        typer.Option(
            help="Not in the paper: split the approximator's noise into N equally likely components with their own "
            "learned offset, so separate clusters (e.g. digit classes) get no in-between samples. 0: plain MLP."
        ),
    ] = _DEFAULT["approx_components"],
    approx_info: Annotated[
        float,
        typer.Option(help="Weight of the InfoGAN term that keeps the approximator's components apart (0: none)."),
    ] = _DEFAULT["approx_info"],
    autoencoder_from: Annotated[
        Path | None,
        typer.Option(
            help="Reuse this run's autoencoder (its best.pt, or a checkpoint) and train only a new approximator.",
            show_default=False,
        ),
    ] = None,
    ema_decay: Annotated[float, typer.Option(help="EMA of the weights used for export; 0 disables.")] = _DEFAULT[
        "ema_decay"
    ],
    hflip: Annotated[bool, typer.Option(help="Random horizontal flips.")] = _DEFAULT["hflip"],
    val_fraction: Annotated[float, typer.Option(help="Share of images held out for validation.")] = _DEFAULT[
        "val_fraction"
    ],
    patience: Annotated[
        int, typer.Option(help="Validations without improvement before stopping; 0: never.")
    ] = _DEFAULT["patience"],
    snapshot_every: Annotated[int, typer.Option(help="Steps between validation, grids and checkpoints.")] = _DEFAULT[
        "snapshot_every"
    ],
    max_steps: Annotated[int | None, typer.Option(help="Stop the autoencoder phase after this many steps.")] = None,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            help="End the autoencoder phase after this many minutes of this invocation (then validate, "
            "go on to the approximator)."
        ),
    ] = None,
    approx_max_minutes: Annotated[
        float | None, typer.Option(help="End the approximator phase after this many minutes of this invocation.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (weights, data order, noise).")] = _DEFAULT["seed"],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = _DEFAULT["device"],
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the convolutional networks.")] = False,
    workers: Annotated[int, typer.Option(help="Processes decoding images into the cache.")] = _DEFAULT["workers"],
    cache_dir: Annotated[
        Path | None, typer.Option(help="Decoded-dataset cache \\[default: ~/.cache/aaae/datasets].", show_default=False)
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train an AAAE model on your images; resumable, multi-GPU with torchrun."""
    options = dict(locals())
    code = torch_module().train_from_cli(options, err)
    if code:
        raise typer.Exit(code)


# ---------------------------------------------------------------- the runtime commands (torch-free)

_attributes = typer.Typer(
    help="Attribute directions (smiling, male, digit_3, ...) used by 'aaae edit'.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(_attributes, name="attributes")

app.command(
    epilog="Examples:\n\n"
    "  aaae sample -n 64 out.png                      # an 8x8 grid from the default model\n\n"
    "  aaae sample -n 16 out.png --seed 7 --cols 8    # reproducible, 2 rows of 8\n\n"
    "  aaae sample -n 1000 --separate samples/        # one PNG per image, any number\n\n"
    "  aaae sample --model user/faces@v1 -n 64 faces.png --temperature 0.8",
)(commands.sample)
app.command(
    epilog="Examples:\n\n"
    "  aaae reconstruct face.jpg -o recon.png\n\n"
    "  aaae reconstruct face.jpg -o recon.png --refine 6     # closer to the photo, about 0.4 s a face\n\n"
    "  aaae reconstruct photos/ -o recon.png --cols 2 --separate recon/",
)(commands.reconstruct)
app.command(
    epilog="Examples:\n\n"
    "  aaae interpolate a.jpg b.jpg -o morph.png               # a row of 8\n\n"
    "  aaae interpolate a.jpg b.jpg --steps 24 -o morph.gif    # an animation",
)(commands.interpolate)
app.command(
    epilog="Examples:\n\n"
    "  aaae edit me.jpg --attr male                          # writes me-edited.jpg, every face edited\n\n"
    "  aaae edit me.jpg --attr smiling --attr eyeglasses --strength 1.5 -o out.png\n\n"
    "  aaae edit me.jpg --attr smiling=-1 -o serious.jpg     # remove an attribute\n\n"
    "  aaae edit me.jpg --attr young --keep eyeglasses,male  # younger, without adding glasses\n\n"
    "  aaae edit group.jpg --attr blond_hair --face 2        # only the second face from the left\n\n"
    "  aaae edit photos/ --attr smiling -o edited/           # a whole folder\n\n"
    "  aaae edit me.jpg --attr male --sweep -2:2:5 --compare -o sweep.png",
)(edit_command.edit)
app.command(
    epilog="Examples:\n\n  aaae faces group.jpg\n\n  aaae faces group.jpg -o faces.png   # the aligned faces",
)(edit_command.faces)
app.command(
    epilog="Examples:\n\n"
    '  pip install "aaae\\[studio]"    # once: adds Gradio\n\n'
    "  aaae studio                    # opens http://127.0.0.1:7860 in your browser\n\n"
    "  aaae studio --model user/faces@v1 --port 8000 --no-browser\n\n"
    "  aaae studio --model ./my-bundle --model faces   # offer two models",
)(studio_command.studio)
app.command(
    epilog="Examples:\n\n  aaae info\n\n  aaae info --model user/faces@v1 --json",
)(commands.info)
app.command(
    epilog="Examples:\n\n"
    "  aaae export runs/faces models/faces             # best.pt -> an ONNX bundle\n\n"
    "  aaae export runs/faces/last.pt out/ --force --data ~/celeba\n\n"
    "  aaae export runs/faces models/faces --push-to-hub user/faces   # and upload it",
)(commands.export)
app.command(
    epilog="Examples:\n\n"
    "  hf auth login                        # once, or set HF_TOKEN\n\n"
    "  aaae push models/faces user/faces    # then: --model user/faces\n\n"
    "  aaae push models/faces user/faces --revision v2 --private",
)(commands.push)
app.command(
    "eval",
    epilog="Examples:\n\n"
    "  aaae eval --model digits --data train-images-idx3-ubyte.gz        # the digits training held out\n\n"
    "  aaae eval --model ./faces --data celeba/ -n 10000 --json faces.json\n\n"
    "  aaae eval --model digits --data mnist/ --temperature 0.8       # also samples at temperature 0.8\n\n"
    "  aaae eval --model ./mine --data test-photos/ --split all --evaluator ./my-evaluator",
)(eval_command.eval_command)
_attributes.command(
    "list",
    epilog="Examples:\n\n  aaae attributes list\n\n  aaae attributes list --model ./my-bundle --json",
)(commands.attributes_list)
_attributes.command(
    "compute",
    epilog="Examples:\n\n"
    "  aaae attributes compute --model ./faces --data celeba/ --labels list_attr_celeba.txt\n\n"
    "  aaae attributes compute --model ./digits --data by-class/        # one sub-folder per class\n\n"
    "  aaae attributes compute --model user/faces --data mine/ --out ./faces-plus",
)(commands.attributes_compute)
_attributes.command(
    "calibrate",
    epilog="Examples:\n\n"
    "  aaae attributes calibrate --model ./faces --data celeba/            # every attribute, 80% target\n\n"
    "  aaae attributes calibrate --model ./faces --data celeba/ --attr Male --attr Smiling --target 0.9",
)(calibrate_command.calibrate_command)


def main() -> None:
    """Console entry point: user errors, typer's usage errors included, become one line on stderr and exit 2."""
    quiet_numpy_warnings()
    treat_sigterm_like_ctrl_c()  # so every command cleans up after SIGTERM as after Ctrl-C
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        err.print(f"[bold red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        if isinstance(exc, NoArgsIsHelpError):
            exc.show()  # a bare 'aaae' or 'aaae attributes': the help, as before
            sys.exit(exc.exit_code)
        err.print(f"[bold red]error:[/] {shown(usage_error_line(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Abort:  # Ctrl-C outside a command's own handling
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)  # as typer's standalone mode did: always a SystemExit
