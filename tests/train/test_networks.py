"""Network shapes at every resolution, the paper's channel widths, and the approximator's code scaling."""

from __future__ import annotations

import pytest
import torch

from aaae_train.networks import ArchConfig, build_networks


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(resolution: int, channels: int) -> None:
    cfg = ArchConfig(resolution=resolution, channels=channels, width=0.125, z_dim=16, c_dim=24)
    nets = build_networks(cfg)
    x = torch.rand(3, channels, resolution, resolution) * 2 - 1
    codes = nets.encoder(x)
    assert codes.shape == (3, 24)
    recon = nets.decoder(codes)
    assert recon.shape == x.shape and recon.abs().max() <= 1
    assert nets.discriminator(x).shape == (3, 1, resolution // 8, resolution // 8)
    assert nets.approximator(torch.randn(5, 16)).shape == (5, 24)
    assert nets.critic(codes).shape == (3,)


def test_paper_widths() -> None:
    assert ArchConfig(resolution=32, channels=1).conv_channels() == [64, 128, 256, 512, 1024]
    assert ArchConfig(resolution=64).conv_channels() == [32, 64, 128, 256, 512, 1024]
    assert ArchConfig(resolution=64, width=0.5).conv_channels()[-1] == 512
    approx = build_networks(ArchConfig(resolution=32, channels=1)).approximator
    assert [m.out_features for m in approx.net if isinstance(m, torch.nn.Linear)] == [512, 512, 512, 128]


def test_bad_architecture() -> None:
    with pytest.raises(ValueError, match="resolution"):
        ArchConfig(resolution=48)
    with pytest.raises(ValueError, match="channels"):
        ArchConfig(channels=2)


def test_approximator_maps_back_from_standardised_space() -> None:
    nets = build_networks(ArchConfig(resolution=32, channels=1, width=0.125))
    approx = nets.approximator
    approx.code_mean.fill_(3.0)
    approx.code_std.fill_(2.0)
    z = torch.randn(4, 64)
    assert torch.allclose(approx(z), approx.standardized(z) * 2 + 3)
    assert torch.allclose(approx.standardize(approx(z)), approx.standardized(z), atol=1e-6)


def test_approximator_components_are_equally_likely_at_any_temperature() -> None:
    """--approx-components: the angle of (z_0, z_1) picks the component, so scaling z keeps every share."""
    approx = build_networks(ArchConfig(resolution=32, channels=1, width=0.125, approx_components=8)).approximator
    z = torch.randn(40_000, 64, generator=torch.Generator().manual_seed(0))
    pick = approx.net.component(z)
    shares = torch.bincount(pick, minlength=8).float() / len(z)
    assert torch.all((shares - 1 / 8).abs() < 0.01), shares
    assert torch.equal(approx.net.component(z * 0.7), pick)
    # Each component has its own offset: the same z with a different component gives a different code.
    turned = z.clone()
    turned[:, :2] = -z[:, :2]  # half a turn: another component, same norm
    assert not torch.equal(approx.net.component(turned), pick)
    assert (approx(z) - approx(turned)).abs().amax() > 0
    with pytest.raises(ValueError, match="approx-components"):
        ArchConfig(approx_components=-1)


def test_the_architecture_keeps_the_options_names() -> None:
    """One name per option: the checkpoint's architecture says ``approx_hidden`` (as ``--approx-hidden`` and
    options.json do), not ``mlp_hidden``; checkpoints written under the old names still load."""
    from aaae_train.options import TrainOptions

    opts = TrainOptions(data=[], out="run", resolution=32, channels=1, approx_hidden=32, approx_layers=2)
    arch = opts.arch().to_dict()
    assert set(arch) <= set(opts.to_dict())
    assert all(arch[name] == opts.to_dict()[name] for name in arch)
    old = {k.replace("approx_", "mlp_"): v for k, v in arch.items()}
    assert ArchConfig.from_dict(old) == opts.arch()


def test_shapes_are_checked_once_for_options_and_checkpoints() -> None:
    """--width 5 is refused with the same words whether it comes from the command line or a checkpoint."""
    from aaae_cli.errors import UserError
    from aaae_train.options import TrainOptions

    with pytest.raises(UserError) as from_options:
        TrainOptions(data=[], out="run", width=5.0).validate()
    with pytest.raises(ValueError) as from_checkpoint:
        ArchConfig(width=5.0)
    assert str(from_options.value) == str(from_checkpoint.value)


def test_option_paths_stay_paths() -> None:
    from pathlib import Path

    from aaae_train.options import TrainOptions

    opts = TrainOptions(data=["a", Path("b")], out="run", labels="l.txt", cache_dir="c")
    assert opts.data == [Path("a"), Path("b")] and opts.out == Path("run") and opts.labels == Path("l.txt")
    saved = opts.to_dict()
    assert saved["data"] == ["a", "b"] and saved["out"] == "run" and saved["cache_dir"] == "c"
    assert TrainOptions.from_dict(saved) == opts
