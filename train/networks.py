"""The five AAAE networks (paper Appendix B, Table III), in one readable file.

- :class:`Encoder` E(x) -> c: 4x4 stride-2 convolutions, BatchNorm, ELU, then a linear layer to the
  code. At 32x32 the channels are 64-128-256-512-1024 (paper width); each doubling of the resolution
  adds one layer at the input end with half the channels of the next, so the deep layers stay the same.
- :class:`Decoder` G(c) -> x: the mirror image, transposed convolutions and a tanh output in [-1, 1].
- :class:`PatchDiscriminator` D_omega: three 4x4 stride-2 convolutions and a 3x3 head giving one logit
  per image patch (an (R/8)x(R/8) map), LeakyReLU 0.2, no normalisation (it sees real and
  reconstructed images in one batch).
- :class:`Approximator` G_phi: MLP z (64) -> 512 x3 -> c (128), ELU. It produces codes in a
  standardised space and maps them back with the stored mean and spread of the encoder's codes, so
  ``approximator(z)`` is directly a code the decoder understands. With ``approx_components`` K > 1 (not
  in the paper) its MLP is a :class:`ComponentMLP`: the angle of (z_0, z_1) picks one of K
  equally likely components, each adding its own learned offset, and a recogniser (InfoGAN's Q network,
  used only in training) learns to tell the components apart from the codes, which keeps them apart:
  separate clusters (digit classes) without a bridge of in-between samples.
- :class:`LatentCritic` D_gamma: MLP c (128) -> 512 x3 -> 1, LeakyReLU 0.1 (WGAN critic).

``width`` multiplies every convolution's channels (1.0 = paper width).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from aaae_train.shapes import shape_problem

# Architecture keys of checkpoints (and bundles' training records) written before 2026-11-27.
LEGACY_NAMES = {"mlp_hidden": "approx_hidden", "mlp_layers": "approx_layers", "mlp_components": "approx_components"}


@dataclass(frozen=True)
class ArchConfig:
    """Everything that fixes the shapes of the networks (and so of a checkpoint). The fields carry the names of
    the training options they come from (:class:`aaae_train.options.TrainOptions`), checkpoints included."""

    resolution: int = 64
    channels: int = 3
    width: float = 1.0
    z_dim: int = 64
    c_dim: int = 128
    approx_hidden: int = 512
    approx_layers: int = 3
    approx_components: int = 0  # approximator components (0 or 1: the paper's plain MLP)

    def __post_init__(self) -> None:
        problem = shape_problem(
            self.resolution, self.channels, self.width, self.z_dim, self.c_dim,
            self.approx_hidden, self.approx_layers, self.approx_components,
        )  # fmt: skip
        if problem:
            raise ValueError(problem)

    @classmethod
    def from_dict(cls, data: dict) -> ArchConfig:
        """An architecture as a checkpoint stores it; checkpoints written before the fields took the options'
        names call the approximator's ``mlp_hidden``, ``mlp_layers`` and ``mlp_components``."""
        renamed = {LEGACY_NAMES.get(key, key): value for key, value in data.items()}
        return cls(**renamed)

    def conv_channels(self) -> list[int]:
        """Encoder channels from the input end to the bottleneck (1x1 spatial)."""
        depth = int(math.log2(self.resolution))  # 32 -> 5 stride-2 layers down to 1x1
        paper = [1024 // 2 ** (depth - 1 - i) for i in range(depth)]  # [.., 256, 512, 1024]
        return [max(8, round(c * self.width)) for c in paper]

    def discriminator_channels(self) -> list[int]:
        return [max(8, round(c * self.width)) for c in (64, 128, 256)]

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    """E: images (N, C, R, R) in [-1, 1] -> codes (N, c_dim)."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = cfg.channels
        for out_ch in cfg.conv_channels():
            layers += [
                nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ELU(inplace=True),
            ]
            in_ch = out_ch
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch, cfg.c_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.convs(x), 1))


class Decoder(nn.Module):
    """G: codes (N, c_dim) -> images (N, C, R, R) in [-1, 1]."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        chans = cfg.conv_channels()[::-1]  # bottleneck first
        self.fc = nn.Sequential(nn.Linear(cfg.c_dim, chans[0], bias=False), nn.BatchNorm1d(chans[0]), nn.ELU(True))
        layers: list[nn.Module] = []
        for in_ch, out_ch in itertools.pairwise(chans):
            layers += [
                nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ELU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(chans[-1], cfg.channels, 4, stride=2, padding=1), nn.Tanh()]
        self.deconvs = nn.Sequential(*layers)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.fc(c)[:, :, None, None])


class PatchDiscriminator(nn.Module):
    """D_omega: images -> patch logits (N, 1, R/8, R/8); positive means "looks real"."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = cfg.channels
        for out_ch in cfg.discriminator_channels():
            layers += [nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
            in_ch = out_ch
        layers.append(nn.Conv2d(in_ch, 1, 3, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _mlp(in_dim: int, hidden: int, layers: int, out_dim: int, act: type[nn.Module], **act_kw: float) -> nn.Sequential:
    modules: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers):
        modules += [nn.Linear(dim, hidden), act(**act_kw)]
        dim = hidden
    modules.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*modules)


class ComponentMLP(nn.Module):
    """An MLP whose first hidden layer gets one of ``components`` learned offsets, picked from z itself.

    The component is the sector of the angle of (z_0, z_1): uniform for z ~ N(0, I) and unchanged when z
    is scaled (sampling temperature), so every component stays equally likely. The input is still plain
    Gaussian noise, so the exported graph keeps the paper's interface. ``recognizer`` (codes ->
    component logits, as InfoGAN's Q) is trained with the approximator and is not part of the export.
    """

    def __init__(self, layers: nn.Sequential, components: int) -> None:
        super().__init__()
        self.layers = layers
        self.components = components
        self.offsets = nn.Parameter(torch.zeros(components, layers[0].out_features))
        nn.init.normal_(self.offsets, std=0.1)
        hidden, code_dim = layers[0].out_features, layers[-1].out_features
        self.recognizer = _mlp(code_dim, hidden, 2, components, nn.LeakyReLU, negative_slope=0.1)

    def component(self, z: torch.Tensor) -> torch.Tensor:
        """Component of each noise vector, in [0, components)."""
        turn = (torch.atan2(z[:, 1], z[:, 0]) + math.pi) / (2 * math.pi)
        return (turn * self.components).floor().clamp(0, self.components - 1).long()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hidden = self.layers[0](z) + self.offsets[self.component(z)]
        return self.layers[1:](hidden)


class Approximator(nn.Module):
    """G_phi: noise z ~ N(0, I) (N, z_dim) -> codes (N, c_dim) in the encoder's code space.

    ``net`` works in a standardised code space; the buffers ``code_mean`` and ``code_std`` (the
    encoder codes' per-dimension statistics, identity by default) map it back.
    """

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        layers = _mlp(cfg.z_dim, cfg.approx_hidden, cfg.approx_layers, cfg.c_dim, nn.ELU)
        self.net: nn.Module = ComponentMLP(layers, cfg.approx_components) if cfg.approx_components > 1 else layers
        self.z_dim = cfg.z_dim
        self.register_buffer("code_mean", torch.zeros(cfg.c_dim))
        self.register_buffer("code_std", torch.ones(cfg.c_dim))

    def standardized(self, z: torch.Tensor) -> torch.Tensor:
        """Codes in the standardised space the latent critic works in."""
        return self.net(z)

    def standardize(self, codes: torch.Tensor) -> torch.Tensor:
        """Encoder codes to the standardised space."""
        return (codes - self.code_mean) / self.code_std

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z) * self.code_std + self.code_mean


class LatentCritic(nn.Module):
    """D_gamma: standardised codes (N, c_dim) -> WGAN critic scores (N,)."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        self.net = _mlp(cfg.c_dim, cfg.approx_hidden, cfg.approx_layers, 1, nn.LeakyReLU, negative_slope=0.1)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.net(c).squeeze(1)


@dataclass
class Networks:
    """The five networks of one model."""

    encoder: Encoder
    decoder: Decoder
    discriminator: PatchDiscriminator
    approximator: Approximator
    critic: LatentCritic

    def named(self) -> dict[str, nn.Module]:
        return {
            "encoder": self.encoder,
            "decoder": self.decoder,
            "discriminator": self.discriminator,
            "approximator": self.approximator,
            "critic": self.critic,
        }


def build_networks(cfg: ArchConfig) -> Networks:
    """Create freshly initialised networks for ``cfg``."""
    return Networks(
        encoder=Encoder(cfg),
        decoder=Decoder(cfg),
        discriminator=PatchDiscriminator(cfg),
        approximator=Approximator(cfg),
        critic=LatentCritic(cfg),
    )


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
