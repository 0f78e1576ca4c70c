"""Training options: one dataclass, saved as ``options.json`` in the run folder; and the settings of ``aaae export``.

This module imports no torch: the CLI reads its defaults from here.
Options that shape the model or the optimisation must match when a run is resumed; the runtime ones
(:data:`RUNTIME_OPTIONS`: device, epochs, logging...) may change between invocations, so a run can be
extended or moved to a GPU.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aaae_cli.data.kinds import SOURCE_KINDS, SOURCE_KINDS_TEXT
from aaae_cli.errors import UserError
from aaae_train.shapes import shape_problem

if TYPE_CHECKING:
    from aaae_train.networks import ArchConfig


SCHEDULES = ("staged", "joint")
# Real-valued options: each must be a finite number (issue #13: --lr inf and --lambda-adv nan were accepted).
FLOAT_OPTIONS = (
    "crop", "width", "lr", "beta1", "beta2", "lambda_adv", "lambda_gp", "approx_lr", "approx_beta1",
    "approx_beta2", "approx_info", "ema_decay", "val_fraction", "max_minutes", "approx_max_minutes",
)  # fmt: skip
# Options that name files or folders (besides ``data``, a list of them): Path inside, strings in options.json.
PATH_OPTIONS = ("out", "labels", "autoencoder_from", "cache_dir")
# Options that may differ when a run is resumed.
RUNTIME_OPTIONS = frozenset(
    {
        "device",
        "compile",
        "workers",
        "epochs",
        "approx_steps",
        "max_steps",
        "max_minutes",
        "approx_max_minutes",
        "patience",
        "snapshot_every",
        "log_every",
        "progress",
        "cache_dir",
    }
)


@dataclass
class TrainOptions:
    """Every option of ``aaae train`` (see ``aaae train --help`` for each one's meaning)."""

    data: list[Path]
    out: Path
    dataset: str = "auto"
    labels: Path | None = None
    resolution: int | None = None  # None: 32 for MNIST, else 64
    channels: int | None = None  # None: 1 for MNIST, else 3
    crop: float | None = None  # None: CelebA's 140/178, else 1.0 (largest centred square); 1.0 with --align face
    # "face": find each image's face and align it to aaae_cli.photos.align.FACE_TEMPLATE, as the runtime frames
    # photos for face models (images with no face are skipped); "none": the centre crop.
    align: str | None = None  # None: a prepared archive's, else "none"
    width: float = 1.0
    z_dim: int = 64
    c_dim: int = 128
    epochs: int = 200
    batch_size: int = 100
    schedule: str = "staged"
    lr: float = 1e-4
    # The paper gives Adam's beta1 = 0.5; its beta2 is unreadable.  0.999 is Adam's default and what
    # DCGAN-style image GANs with beta1 = 0.5 use; the approximator gets WGAN-GP's 0.9 (below).
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_adv: float = 0.001
    lambda_gp: float = 10.0
    approx_k: int = 2
    # Not the paper's 1 critic step and lr 1e-4: on MNIST codes, 2 critic steps at 3e-4 reached a
    # far better sampler in the same CPU time (BENCHMARKS.md, "The approximator").
    # ``--critic-steps 1 --approx-lr 1e-4 --no-standardize-codes`` is the paper's setting.
    critic_steps: int = 2
    approx_lr: float = 3e-4
    approx_beta1: float = 0.5
    # Gulrajani et al.'s WGAN-GP setting; 0.999 makes the critic lag behind a moving generator.
    approx_beta2: float = 0.9
    approx_steps: int = 20_000  # staged schedule: approximator steps on the frozen encoder's codes
    standardize_codes: bool = True
    # Width and depth of the approximator and latent-critic MLPs (hidden layers of approx_hidden units).
    approx_hidden: int = 512
    approx_layers: int = 3
    # Not in the paper: split the approximator's noise into this many equally likely components, each with a
    # learned offset (networks.ComponentMLP); 0 keeps the paper's plain MLP.
    approx_components: int = 0
    # Weight of the InfoGAN term that keeps those components apart (a recogniser must tell them from the codes).
    approx_info: float = 1.0
    # Staged schedule only: take the encoder, decoder and patch discriminator from this run folder's best.pt
    # (or this checkpoint) and train only a new approximator, e.g. a larger one.
    autoencoder_from: Path | None = None
    ema_decay: float = 0.999  # 0 disables the EMA copy
    hflip: bool = False
    val_fraction: float = 0.05
    patience: int = 10  # validations without improvement before early stopping (0: never stop)
    snapshot_every: int = 500  # steps between validation, grids and checkpoints
    log_every: int = 50
    max_steps: int | None = None  # stop after this many autoencoder steps (tests, benchmarks)
    # Wall-clock budgets of this invocation's autoencoder and approximator phases, in minutes (a GPU lease, a
    # night): the phase then ends as if its steps were done (validation, best.pt, on to the next phase).
    max_minutes: float | None = None
    approx_max_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    workers: int = 2
    progress: bool = True
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        # Paths stay Path inside (callers may give str); options.json and checkpoints hold them as strings.
        self.data = [Path(p) for p in self.data]
        for name in PATH_OPTIONS:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, Path(value))

    def resolve(self, source_kinds: list[str], prepared: dict | None = None) -> TrainOptions:
        """Fill the data-dependent defaults and check every value; returns self. ``prepared``: the preprocessing
        of a prepared dataset archive, which the run takes (an option given otherwise is an error)."""
        for name in ("resolution", "channels", "crop", "align"):
            if prepared is None:
                break
            given, theirs = getattr(self, name), prepared.get(name, "none" if name == "align" else None)
            if given is None:
                setattr(self, name, theirs)
            elif given != theirs:
                raise UserError(f"--{name} {given}: the dataset archive was prepared with {name} {theirs}")
        if self.align is None:
            self.align = "none"
        digits = all(kind == "mnist" for kind in source_kinds)
        if self.resolution is None:
            self.resolution = 32 if digits else 64
        if self.channels is None:
            self.channels = 1 if digits else 3
        if self.crop is None:
            self.crop = round(140 / 178, 6) if "celeba" in source_kinds and self.align == "none" else 1.0
        self.validate()
        return self

    def validate(self) -> None:
        for name in FLOAT_OPTIONS:  # inf passed every "> 0" check and NaN every missing one: all losses NaN
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
                raise UserError(f"--{name.replace('_', '-')} {value}: must be a finite number")
        checks = [
            (self.lambda_adv >= 0 and self.lambda_gp >= 0, "--lambda-adv and the gradient penalty must be >= 0"),
            (self.patience >= 0 and self.approx_steps >= 0, "--patience and --approx-steps must be >= 0"),
            (0 <= self.seed < 2**63, "--seed must be a whole number from 0 to 2**63 - 1"),
            (
                all(0 <= b < 1 for b in (self.beta1, self.beta2, self.approx_beta1, self.approx_beta2)),
                "Adam's betas must be in [0, 1)",
            ),
            (self.crop is None or 0.05 <= self.crop <= 1.0, "--crop must be in [0.05, 1]"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 2, "--batch-size must be at least 2"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (self.lr > 0 and self.approx_lr > 0, "learning rates must be positive"),
            (self.approx_k >= 0 and self.critic_steps >= 1, "--approx-k >= 0 and --critic-steps >= 1"),
            (self.approx_info >= 0, "--approx-info must be >= 0"),
            (
                self.autoencoder_from is None or self.schedule == "staged",
                "--autoencoder-from needs the staged schedule (it trains only the approximator)",
            ),
            (0 <= self.ema_decay < 1, "--ema-decay must be in [0, 1)"),
            (0 < self.val_fraction < 0.5, "--val-fraction must be in (0, 0.5)"),
            (self.snapshot_every >= 1 and self.log_every >= 1, "--snapshot-every and --log-every must be >= 1"),
            (self.max_steps is None or self.max_steps >= 1, "--max-steps must be at least 1"),
            (
                all(m is None or m > 0 for m in (self.max_minutes, self.approx_max_minutes)),
                "--max-minutes and --approx-max-minutes must be positive",
            ),
            (self.align in (None, "none", "face"), "--align must be none or face"),
            (
                self.align != "face" or self.channels in (None, 3),  # None: not given, "none" once resolved
                "--align face needs colour images (--channels 3)",
            ),
            (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"), "--device: auto, cpu or cuda"),
            (self.dataset in SOURCE_KINDS, f"--dataset: {SOURCE_KINDS_TEXT}"),
        ]
        shape = shape_problem(
            self.resolution, self.channels, self.width, self.z_dim, self.c_dim,
            self.approx_hidden, self.approx_layers, self.approx_components,
        )  # fmt: skip
        for ok, message in [*checks, (shape is None, shape or "")]:
            if not ok:
                raise UserError(message)

    def arch(self) -> ArchConfig:
        from aaae_train.networks import ArchConfig

        assert self.resolution is not None and self.channels is not None
        return ArchConfig(
            resolution=self.resolution,
            channels=self.channels,
            width=self.width,
            z_dim=self.z_dim,
            c_dim=self.c_dim,
            approx_hidden=self.approx_hidden,
            approx_layers=self.approx_layers,
            approx_components=self.approx_components,
        )

    def to_dict(self) -> dict:
        """Plain JSON values (paths as strings), as ``options.json`` and checkpoints store them."""
        data = asdict(self)
        data["data"] = [str(p) for p in self.data]
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: Path) -> None:
        from aaae_cli.utils.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def differences(self, other: TrainOptions) -> list[str]:
        """The options (outside :data:`RUNTIME_OPTIONS`) in which ``other`` differs from self."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"--{name.replace('_', '-')} {theirs[name]!r} (run: {mine[name]!r})"
            for name in mine
            if name not in RUNTIME_OPTIONS and name != "out" and mine[name] != theirs[name]
        ]


def make_options(data: list[str | Path] | str | Path, out: str | Path, **options: Any) -> TrainOptions:
    """Build and check :class:`TrainOptions` (the data-dependent defaults stay None until
    :meth:`TrainOptions.resolve`); data paths become absolute so a run resumes from any folder. Torch-free, so
    ``aaae train`` refuses bad options before it imports torch."""
    paths = [data] if isinstance(data, (str, Path)) else list(data)
    if not paths:
        raise UserError("give at least one data folder or file")
    clean = {k: v for k, v in options.items() if v is not None or k == "max_steps"}
    if clean.get("autoencoder_from"):
        clean["autoencoder_from"] = Path(clean["autoencoder_from"]).expanduser().resolve()
    opts = TrainOptions(data=[Path(p).expanduser().resolve() for p in paths], out=Path(out), **clean)
    opts.validate()
    return opts


WEIGHT_FORMATS = ("fp32", "fp16")


@dataclass(frozen=True)
class ExportSettings:
    """How :func:`aaae_train.export.export_run` (``aaae export``) makes a bundle of a run; the command's option
    defaults come from here."""

    checkpoint: str = "best"  # best (lowest validation error) or last
    name: str | None = None  # the model's name; None: the bundle folder's name
    data_name: str | None = None  # the training data's name on the model card; None: from the run
    license: str = "mit"  # licence id for the model card (Hub metadata)
    data: tuple[str, ...] = ()  # the training data, where it moved since training; (): where the run says
    labels: str | None = None  # its attribute file, with data
    cache_dir: str | None = None  # the decoded-dataset cache; None: the run's
    device: str = "auto"  # PyTorch device for encoding the data: auto, cpu or cuda
    min_count: int = 10  # attributes with fewer images on either side are skipped
    force: bool = False  # replace a bundle folder that holds something
    match_code_moments: bool = True  # first fit the approximator's code mean and covariance to the training codes'
    weights: str = "fp32"  # fp16: the graphs' weights stored in half precision (aaae_train.half_weights)
