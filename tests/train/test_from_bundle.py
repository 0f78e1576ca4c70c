"""A bundle's decoder graph rebuilt as a trainable Decoder (aaae_train.from_bundle): the same images, and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from aaae_cli.bundle.folder import Bundle
from aaae_cli.errors import UserError
from aaae_cli.runtime import Graph
from aaae_train.from_bundle import bundle_arch, decoder_from_graph, freeze_batchnorm, save_decoder_graph
from aaae_train.half_weights import halve_weights
from aaae_train.networks import ArchConfig


def _arch(bundle: Path) -> ArchConfig:
    return bundle_arch(Bundle(bundle))


def _codes(n: int = 6) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal((n, 128)) * 2).astype(np.float32)


def _decode(decoder: torch.nn.Module, codes: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return decoder.eval()(torch.from_numpy(codes)).numpy()


def test_rebuilt_decoder_draws_what_the_graph_draws(tiny_bundle: Path) -> None:
    graph_path = tiny_bundle / "decoder.onnx"
    codes = _codes()
    expected = Graph("decoder", graph_path.read_bytes(), "cpu").run(codes)
    got = _decode(decoder_from_graph(graph_path, _arch(tiny_bundle)), codes)
    assert got.shape == expected.shape == (6, 1, 32, 32)
    assert float(np.abs(got - expected).max()) < 1e-5
    assert float(expected.std()) > 0.05  # a trained decoder's images, not a constant
    from_bytes = _decode(decoder_from_graph(graph_path.read_bytes(), _arch(tiny_bundle)), codes)
    np.testing.assert_array_equal(from_bytes, got)  # the bytes a bundle gives (Bundle.graph_bytes), no file


def test_float16_weights_are_read(tiny_bundle: Path, tmp_path: Path) -> None:
    model = onnx.load(str(tiny_bundle / "decoder.onnx"))
    assert halve_weights(model) > 0
    half = tmp_path / "decoder.onnx"
    onnx.save(model, str(half))
    codes = _codes()
    expected = Graph("decoder", half.read_bytes(), "cpu").run(codes)
    got = _decode(decoder_from_graph(half, _arch(tiny_bundle)), codes)
    assert float(np.abs(got - expected).max()) < 1e-5


def test_lowered_again_after_a_change(tiny_bundle: Path, tmp_path: Path) -> None:
    """A fine-tune's step changes the rebuilt decoder; its graph, written again, draws the changed images."""
    arch = _arch(tiny_bundle)
    decoder = decoder_from_graph(tiny_bundle / "decoder.onnx", arch)
    decoder.train()
    freeze_batchnorm(decoder)
    before = {name: p.detach().clone() for name, p in decoder.named_parameters()}
    codes = torch.from_numpy(_codes(8))
    loss = decoder(codes).square().mean()
    loss.backward()
    torch.optim.SGD(decoder.parameters(), lr=1.0).step()
    bn = decoder.fc[1]
    assert not bn.training and float(bn.running_mean.abs().max()) == 0.0  # statistics untouched by the batch
    assert any(not torch.equal(before[name], p) for name, p in decoder.named_parameters())
    path = tmp_path / "decoder.onnx"
    save_decoder_graph(decoder, arch, path)
    expected = _decode(decoder, _codes())
    got = Graph("decoder", path.read_bytes(), "cpu").run(_codes())
    assert float(np.abs(got - expected).max()) < 1e-4
    original = Graph("decoder", (tiny_bundle / "decoder.onnx").read_bytes(), "cpu").run(_codes())
    assert float(np.abs(got - original).max()) > 1e-3  # the change reached the graph


def test_not_a_decoder_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="fc_weight"):
        decoder_from_graph(tiny_bundle / "encoder.onnx", _arch(tiny_bundle))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a graph" * 10)
    with pytest.raises(UserError, match="cannot read"):
        decoder_from_graph(junk, _arch(tiny_bundle))
    with pytest.raises(UserError, match="cannot read"):
        decoder_from_graph(junk.read_bytes(), _arch(tiny_bundle))
    wider = ArchConfig(**{**_arch(tiny_bundle).__dict__, "width": 0.5})
    with pytest.raises(UserError, match="expected"):
        decoder_from_graph(tiny_bundle / "decoder.onnx", wider)
