"""FID's network on onnxruntime: the same resize as the TorchScript path, and a conversion that is checked and cached
(NVIDIA's 87 MB network cannot be a test file: a small TorchScript stand-in with the same interface is converted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(("height", "width", "channels"), [(64, 64, 3), (28, 28, 1), (32, 45, 3)])
def test_the_numpy_resize_is_nvidias_grid_sample(height: int, width: int, channels: int) -> None:
    from aaae_cli.evaluation.inception import INPUT_RANGE, network_input
    from aaae_train.inception import _resize

    images = np.random.default_rng(height).integers(0, 256, (3, height, width, channels), dtype=np.uint8)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    expected = _resize(x.expand(-1, 3, -1, -1).contiguous()).numpy()
    low, high = INPUT_RANGE
    got = (network_input(images) - low) / (high - low)
    inside = expected < 1 - 1e-6  # the network's range ends at 0.9921875: the top of [0, 1] is clipped
    assert got.shape == expected.shape == (3, 3, 299, 299)
    assert np.abs(got - expected)[inside].max() < 1e-5


class _StandIn(torch.nn.Module):
    """Inception's interface: (N, 3, 299, 299) in TF's range -> (N, 2048) pool features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2048, 5, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def test_the_network_is_converted_once_checked_and_refound_only_unchanged(tmp_path: Path) -> None:
    from aaae_cli.evaluation.inception import OnnxInceptionFeatures, verified_onnx
    from aaae_train.inception import InceptionFeatures, onnx_file

    torch.manual_seed(0)
    network = tmp_path / "stand-in.pt"
    torch.jit.script(_StandIn().eval()).save(str(network))
    cache = tmp_path / "cache"
    assert verified_onnx(cache) is None
    converted = onnx_file(network, cache)
    assert verified_onnx(cache) == converted
    images = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    onnx_features = OnnxInceptionFeatures(converted, batch=3)(images)
    assert onnx_features.shape == (4, 2048)
    assert np.abs(onnx_features - InceptionFeatures(network)(images)).max() < 1e-4
    with open(converted, "ab") as handle:  # changed after the conversion: not used, converted again
        handle.write(b"\0")
    assert verified_onnx(cache) is None
    assert onnx_file(network, cache) == converted and verified_onnx(cache) == converted
