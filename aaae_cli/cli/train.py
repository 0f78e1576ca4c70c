"""``aaae train``: train (or resume) a model, a thin wrapper over :func:`aaae_train.api.train`.

The option defaults come from :class:`aaae_train.options.TrainOptions` (torch-free, so ``aaae --help`` stays
light); :mod:`aaae_train.api`, and with it torch, is imported only when the command runs.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer

from aaae_cli.cli._options import CacheDirOption, ChannelsOption, CropOption, ResolutionOption
from aaae_cli.cli._torch import torch_module
from aaae_cli.data.kinds import SOURCE_KINDS_TEXT
from aaae_cli.utils.progress import RichProgress, err
from aaae_cli.utils.terminal import shown
from aaae_train.options import TrainOptions, make_options

_DEFAULT = {f.name: f.default for f in fields(TrainOptions)}  # one source of truth for defaults

commands = typer.Typer()  # registered on the app by aaae_cli.cli.app


@commands.command(
    epilog="Examples:\n\n"
    "  aaae train ~/photos --out runs/photos                    # a folder of images, 64x64 RGB\n\n"
    "  aaae train data/celeba --out runs/faces --epochs 50      # images/ + list_attr_celeba.txt\n\n"
    "  aaae train data/celeba --align face --hflip --out runs/faces  # faces aligned as photos are\n\n"
    "  aaae train faces.zip --out runs/faces --max-minutes 30   # a prepared archive (aaae data pack)\n\n"
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
    dataset: Annotated[str, typer.Option(help=f"{SOURCE_KINDS_TEXT}.")] = _DEFAULT["dataset"],
    labels: Annotated[Path | None, typer.Option(help="CelebA attribute file, if not inside the data folder.")] = None,
    resolution: ResolutionOption = None,
    channels: ChannelsOption = None,
    crop: CropOption = None,
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
    cache_dir: CacheDirOption = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train an AAAE model on your images; resumable, multi-GPU with torchrun."""
    options = dict(locals())
    code = _train(options)
    if code:
        raise typer.Exit(code)


def _train(options: dict[str, Any]) -> int:
    """Run :func:`aaae_train.api.train` with the parsed options and say how it ended; returns the exit code."""
    options = dict(options)
    data, out = options.pop("data"), options.pop("out")
    make_options(data, out, **options)  # bad options are one line before torch is imported (seconds)
    with RichProgress(err) as progress:  # the run itself shows bars only with --progress
        result = torch_module().train(data, out, report=progress, **options)
    state = result.state
    if not result.main_process:
        return 130 if result.interrupted else 0
    if result.interrupted:
        err.print(
            f"stopped at update {state.step + state.approx_step}; checkpoint saved in {shown(result.run)}. "
            "Run the same command to resume."
        )
        return 130
    if result.skipped_files:
        err.print(f"{result.skipped_files} unreadable file(s) were skipped (see the list in the data cache)")
    err.print(
        f"[bold green]done[/]: {state.step} autoencoder steps, {state.approx_step} approximator steps; "
        f"best validation MSE {state.best_val_mse:.5f} (pixels in [0, 1]) at step {state.best_step}.\n"
        f"Model: {shown(result.run / 'best.pt')}   grids: {shown(result.run)}/samples-*.png",
        highlight=False,
    )
    return 0
