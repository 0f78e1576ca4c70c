"""Algorithm 1 of the paper, one update at a time.

:class:`AAAETraining` holds the five networks, their optimisers, the EMA copies and the noise generator, and
offers the three updates the training loop composes:

1. :meth:`AAAETraining.autoencoder_step`: reconstruction MSE + lambda1 * the non-saturating adversarial loss
   on the patch discriminator's logits (D_omega frozen for this step).
2. :meth:`AAAETraining.discriminator_step`: D_omega on real versus reconstructed (detached) images, BCE.
3. :meth:`AAAETraining.approximator_round`: ``critic_steps`` WGAN-GP updates of the latent critic D_gamma,
   then one update of the approximator G_phi, against *detached* (standardised) encoder codes, so no
   gradient from the latent critic reaches the encoder.

Under ``torchrun`` the trained modules are wrapped in DistributedDataParallel; the frozen-side
forwards (D_omega in step 1, D_gamma in the approximator update) use the plain modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from aaae_train.distributed import DistInfo
from aaae_train.networks import ComponentMLP, Decoder, Encoder, Networks
from aaae_train.options import TrainOptions

EMA_NAMES = ("encoder", "decoder", "approximator")


class AutoEncoder(nn.Module):
    """E and G as one module (one DDP wrapper): images -> (codes, reconstructions)."""

    def __init__(self, encoder: Encoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.encoder(x)
        return codes, self.decoder(codes)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Temporarily stop gradients into ``module``'s parameters (gradients still flow through it)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def ema_with_warmup(decay: float) -> Callable[[list[torch.Tensor], list[torch.Tensor], torch.Tensor], None]:
    """EMA whose decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates, so a short
    run's EMA copy is not stuck near the initial weights."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        weight = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
        for a, c in zip(averaged, current, strict=True):
            if not a.is_floating_point():
                a.copy_(c)

    return update


class AAAETraining:
    """The networks plus everything needed to train them (optimisers, EMA, noise generator)."""

    def __init__(self, nets: Networks, opts: TrainOptions, device: torch.device, dist: DistInfo) -> None:
        self.nets = nets
        self.opts = opts
        self.device = device
        self.dist = dist
        for module in nets.named().values():
            module.to(device)
        if device.type == "cuda":
            for module in (nets.encoder, nets.decoder, nets.discriminator):
                module.to(memory_format=torch.channels_last)
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
        )
        self.ae = AutoEncoder(nets.encoder, nets.decoder)
        betas = (opts.beta1, opts.beta2)
        approx_betas = (opts.approx_beta1, opts.approx_beta2)
        self.optimizers = {
            "autoencoder": torch.optim.Adam(self.ae.parameters(), lr=opts.lr, betas=betas),
            "discriminator": torch.optim.Adam(nets.discriminator.parameters(), lr=opts.lr, betas=betas),
            "approximator": torch.optim.Adam(nets.approximator.parameters(), lr=opts.approx_lr, betas=approx_betas),
            "critic": torch.optim.Adam(nets.critic.parameters(), lr=opts.approx_lr, betas=approx_betas),
        }
        self.ema: dict[str, AveragedModel] = {}
        if opts.ema_decay > 0:
            averaging = ema_with_warmup(opts.ema_decay)
            self.ema = {
                name: AveragedModel(getattr(nets, name), multi_avg_fn=averaging, use_buffers=True) for name in EMA_NAMES
            }
        self.noise = torch.Generator(device=device)
        self.noise.manual_seed(opts.seed * 1000 + dist.rank)
        # Trained modules, DDP-wrapped under torchrun.
        self.ae_train: nn.Module = self._wrap(self.ae)
        self.d_train: nn.Module = self._wrap(nets.discriminator)
        self.approx_train: nn.Module = self._wrap(nets.approximator.net)
        self.critic_train: nn.Module = self._wrap(nets.critic)
        if opts.compile:
            self.ae_train = torch.compile(self.ae_train)
            self.d_train = torch.compile(self.d_train)

    def _wrap(self, module: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, gradient_as_bucket_view=True)

    # ------------------------------------------------------------------ the three updates

    def autoencoder_step(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One update of E and G; returns the detached codes and reconstructions, and losses."""
        self.ae.train()
        with self.autocast:
            codes, recon = self.ae_train(x)
            rec_loss = F.mse_loss(recon.float(), x.float())
            loss = rec_loss
            adv_loss = torch.zeros((), device=x.device)
            if self.opts.lambda_adv > 0:
                with frozen(self.nets.discriminator):
                    logits = self.nets.discriminator(recon)
                adv_loss = F.softplus(-logits.float()).mean()  # -log sigmoid: non-saturating
                loss = rec_loss + self.opts.lambda_adv * adv_loss
        optimizer = self.optimizers["autoencoder"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return codes.detach().float(), recon.detach(), {"loss_rec": rec_loss.detach(), "loss_adv": adv_loss.detach()}

    def discriminator_step(self, x: torch.Tensor, recon: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of the patch discriminator D_omega: real images versus reconstructions."""
        if self.opts.lambda_adv <= 0:
            return {}
        # Two passes rather than one on the concatenated batch: measured faster on the CPU
        # (BENCHMARKS.md, "Training speed") and the same on a GPU, where the batch is large already.
        with self.autocast:
            real = self.d_train(x).float()
            fake = self.d_train(recon.to(x.dtype)).float()
        loss = F.softplus(-real).mean() + F.softplus(fake).mean()
        optimizer = self.optimizers["discriminator"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss_d": loss.detach()}

    def approximator_round(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """``critic_steps`` WGAN-GP updates of D_gamma, then one update of G_phi.

        ``real`` are standardised encoder codes, detached from the encoder.
        """
        batch = real.shape[0]
        z_dim = self.nets.approximator.z_dim
        approx_net = self.nets.approximator.net
        stats: dict[str, torch.Tensor] = {}
        for _ in range(self.opts.critic_steps):
            z = torch.randn(batch, z_dim, device=self.device, generator=self.noise)
            with torch.no_grad():
                fake = approx_net(z)
            eps = torch.rand(batch, 1, device=self.device, generator=self.noise)
            mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
            scores = self.critic_train(torch.cat([real, fake, mix]))
            s_real, s_fake, s_mix = scores.split(batch)
            (grad,) = torch.autograd.grad(s_mix.sum(), mix, create_graph=True)
            penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
            wdist = s_real.mean() - s_fake.mean()
            loss = -wdist + self.opts.lambda_gp * penalty
            optimizer = self.optimizers["critic"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            stats = {"wdist": wdist.detach(), "gp": penalty.detach()}
        z = torch.randn(batch, z_dim, device=self.device, generator=self.noise)
        with frozen(self.nets.critic):
            fake = self.approx_train(z)
            approx_loss = -self.nets.critic(fake).mean()
        if isinstance(approx_net, ComponentMLP) and self.opts.approx_info > 0:
            # InfoGAN's mutual-information term: the recogniser must tell each code's component.
            info = F.cross_entropy(approx_net.recognizer(fake), approx_net.component(z))
            approx_loss = approx_loss + self.opts.approx_info * info
            stats["info"] = info.detach()
        optimizer = self.optimizers["approximator"]
        optimizer.zero_grad(set_to_none=True)
        approx_loss.backward()
        optimizer.step()
        stats["loss_approx"] = approx_loss.detach()
        return stats

    # ------------------------------------------------------------------ code statistics, EMA

    @torch.no_grad()
    def update_code_stats(self, codes: torch.Tensor, momentum: float = 0.01) -> None:
        """Track the encoder codes' mean and spread (joint schedule): an EMA of batch statistics,
        averaged over ranks so every process standardises the same way."""
        if not self.opts.standardize_codes:
            return
        moments = torch.stack([codes.mean(0), (codes**2).mean(0)])
        if self.dist.enabled:
            torch.distributed.all_reduce(moments)
            moments /= self.dist.world_size
        approx = self.nets.approximator
        first = bool(torch.all(approx.code_std == 1) and torch.all(approx.code_mean == 0))
        rate = 1.0 if first else momentum
        mean = approx.code_mean.lerp(moments[0], rate)
        second = (approx.code_std**2 + approx.code_mean**2).lerp(moments[1], rate)
        approx.code_mean.copy_(mean)
        approx.code_std.copy_((second - mean**2).clamp_min(1e-8).sqrt())

    @torch.no_grad()
    def set_code_stats(self, codes: torch.Tensor) -> None:
        """Exact statistics of all training codes (staged schedule)."""
        if not self.opts.standardize_codes:
            return
        self.nets.approximator.code_mean.copy_(codes.mean(0))
        self.nets.approximator.code_std.copy_(codes.std(0).clamp_min(1e-4))

    def ema_update(self, names: tuple[str, ...] = EMA_NAMES) -> None:
        for name in names:
            if name in self.ema:
                self.ema[name].update_parameters(getattr(self.nets, name))

    def export_module(self, name: str) -> nn.Module:
        """The weights to use for sampling and export: the EMA copy when there is one."""
        return self.ema[name].module if name in self.ema else getattr(self.nets, name)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict:
        return {
            "models": {name: module.state_dict() for name, module in self.nets.named().items()},
            "ema": {name: avg.state_dict() for name, avg in self.ema.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict, *, optimizers: bool = True) -> None:
        for name, module in self.nets.named().items():
            module.load_state_dict(state["models"][name])
        for name, avg in self.ema.items():
            if name in state["ema"]:
                avg.load_state_dict(state["ema"][name])
        if optimizers:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            self.noise.set_state(state["noise"].cpu())
