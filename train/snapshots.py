"""What the loop measures and shows while training: validation reconstruction error, a latent
Frechet distance for the approximator, and the sample and reconstruction grids."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from aaae_cli.evaluation.metrics import frechet_distance_between
from aaae_cli.images import make_grid, to_uint8

GRID_SEED = 20190215  # fixed noise for the sample grids, so successive grids are comparable


def to_model_input(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 NHWC (any device) to float NCHW in [-1, 1] on ``device`` (channels_last on CUDA)."""
    x = batch.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x.contiguous()


def batches(indices: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(indices), size):
        yield indices[start : start + size]


@torch.no_grad()
def reconstruction_mse(
    encoder: nn.Module, decoder: nn.Module, images: torch.Tensor, indices: np.ndarray, device: torch.device
) -> float:
    """Mean squared error per pixel, pixels in [0, 1], of G(E(x)) over ``images[indices]``."""
    encoder.eval()
    decoder.eval()
    total, count = 0.0, 0
    for chunk in batches(indices, 250):
        x = to_model_input(images[torch.from_numpy(chunk)], device)
        recon = decoder(encoder(x)).float()
        total += float(((recon - x) / 2).pow(2).sum())
        count += x.numel()
    return total / max(count, 1)


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, indices: np.ndarray, device: torch.device) -> torch.Tensor:
    """Codes of ``images[indices]`` (eval mode), on ``device``."""
    encoder.eval()
    return torch.cat(
        [encoder(to_model_input(images[torch.from_numpy(c)], device)).float() for c in batches(indices, 500)]
    )


@torch.no_grad()
def latent_frechet(approximator: nn.Module, real_codes: torch.Tensor, z_dim: int, count: int = 2000) -> float:
    """Frechet distance between approximator codes and real codes (a cheap progress signal)."""
    approximator.eval()
    gen = torch.Generator().manual_seed(GRID_SEED + 1)
    z = torch.randn(count, z_dim, generator=gen).to(real_codes.device)
    fake = approximator(z).float().cpu().numpy()
    return frechet_distance_between(fake, real_codes[:count].cpu().numpy())


@torch.no_grad()
def sample_grid(
    approximator: nn.Module, decoder: nn.Module, z_dim: int, device: torch.device, count: int = 64
) -> np.ndarray:
    approximator.eval()
    decoder.eval()
    z = torch.randn(count, z_dim, generator=torch.Generator().manual_seed(GRID_SEED)).to(device)
    return make_grid(to_uint8(decoder(approximator(z)).float().cpu().numpy()), cols=8)


@torch.no_grad()
def reconstruction_grid(
    encoder: nn.Module, decoder: nn.Module, images: torch.Tensor, indices: np.ndarray, device: torch.device
) -> np.ndarray:
    """Originals and reconstructions side by side, four pairs per row."""
    encoder.eval()
    decoder.eval()
    x = to_model_input(images[torch.from_numpy(indices[:32])], device)
    recon = to_uint8(decoder(encoder(x)).float().cpu().numpy())
    real = to_uint8(x.float().cpu().numpy())
    pairs = np.stack([real, recon], axis=1).reshape(-1, *real.shape[1:])
    return make_grid(pairs, cols=8)
