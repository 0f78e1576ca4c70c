"""A bundle's decoder graph back into a trainable :class:`Decoder`: the inverse of export's lowering.

Why: a shipped model keeps only its exported graphs; its training checkpoint need not survive (the built-in
``faces`` lost its own). The decoder's graph is the trained :class:`Decoder` computed as matrix products with
BatchNorm folded into the weights (:class:`aaae_train.export.ExportDecoder`), and those weights fix the
Decoder's function exactly: each transposed convolution's kernel is its four kernel rows side by side, and each
folded BatchNorm becomes one with unit scale whose shift is the folded bias. So a bundle's decoder can be
fine-tuned on the codes its own encoder gives (``tests/bench/finetune_decoder.py``), which keeps its encoder,
approximator and attribute directions valid; :func:`save_decoder_graph` lowers it again.

The rebuilt BatchNorm layers hold running statistics that make them the identity plus a shift; trained with
batch statistics they would compute something else, so a fine-tune keeps them in eval mode
(:func:`freeze_batchnorm`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError
from onnx import numpy_helper
from torch import nn

from aaae_cli.bundle.folder import Bundle
from aaae_cli.errors import UserError
from aaae_train.export import ExportDecoder, export_graph
from aaae_train.half_weights import SUFFIX as HALF_SUFFIX
from aaae_train.networks import ArchConfig, Decoder


def graph_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """A graph's initializers as float32 arrays by name; weights stored in float16 (``--weights fp16``) are read
    under the name their cast gives them."""
    weights = {}
    for tensor in model.graph.initializer:
        name = tensor.name.removesuffix(HALF_SUFFIX)
        values = numpy_helper.to_array(tensor)
        if values.dtype.kind == "f":
            weights[name] = values.astype(np.float32)
    return weights


def _tensor(weights: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> torch.Tensor:
    value = weights.get(name)
    if value is None or tuple(value.shape) != shape:
        found = "missing" if value is None else f"shaped {tuple(value.shape)}"
        raise UserError(
            f"decoder graph: weight {name!r} is {found}, expected {shape}: not an aaae decoder of this shape"
        )
    return torch.from_numpy(np.ascontiguousarray(value))


def _set_batchnorm_shift(bn: nn.BatchNorm1d | nn.BatchNorm2d, shift: torch.Tensor) -> None:
    """``bn`` in eval mode becomes ``x + shift``: unit scale, zero mean, variance 1 - eps."""
    bn.weight.fill_(1.0)
    bn.bias.copy_(shift)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)


@torch.no_grad()
def decoder_from_weights(weights: dict[str, np.ndarray], arch: ArchConfig) -> Decoder:
    """The :class:`Decoder` of ``arch`` that computes what the lowered weights ``weights`` compute."""
    decoder = Decoder(arch).eval()
    chans = arch.conv_channels()[::-1]
    linear, bn = decoder.fc[0], decoder.fc[1]
    linear.weight.copy_(_tensor(weights, "fc_weight", (arch.c_dim, chans[0])).t())
    _set_batchnorm_shift(bn, _tensor(weights, "fc_bias", (chans[0],)))
    convs = [m for m in decoder.deconvs if isinstance(m, nn.ConvTranspose2d)]
    norms = [m for m in decoder.deconvs if isinstance(m, nn.BatchNorm2d)]
    outs = [*chans[1:], arch.channels]
    for i, (conv, c_out) in enumerate(zip(convs, outs, strict=True)):
        c_in = conv.in_channels
        taps = torch.zeros(c_in, 4, 4, c_out)  # (C_in, ky, kx, C_out)
        if i == 0:  # a 1x1 input reaches the output through taps 1-2 only; the others are never used
            taps[:, 1:3, 1:3] = _tensor(weights, "first", (c_in, 4 * c_out)).reshape(c_in, 2, 2, c_out)
        else:
            for ky in range(4):
                taps[:, ky] = _tensor(weights, f"rows.{4 * (i - 1) + ky}", (c_in, 4 * c_out)).reshape(c_in, 4, c_out)
        conv.weight.copy_(taps.permute(0, 3, 1, 2))
        bias = _tensor(weights, f"biases.{i}", (c_out,))
        if i < len(norms):
            _set_batchnorm_shift(norms[i], bias)
        else:
            conv.bias.copy_(bias)
    return decoder


def bundle_arch(bundle: Bundle) -> ArchConfig:
    """The networks' shapes a bundle records (``training.arch``), refused when it records none or a bad one."""
    arch = bundle.config.training.arch if bundle.config.training else None
    if not isinstance(arch, dict):
        raise UserError(f"{bundle.path}: the bundle does not record its networks' shapes (training.arch)")
    try:
        return ArchConfig.from_dict(arch)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{bundle.path}: training.arch is not a valid architecture ({exc})") from None


def decoder_from_graph(graph: Path | str | bytes, arch: ArchConfig) -> Decoder:
    """The trainable :class:`Decoder` behind an exported decoder graph (a file, or its bytes as
    ``Bundle.graph_bytes`` gives them; float32 or float16 weights)."""
    where = "decoder graph" if isinstance(graph, bytes) else str(graph)
    try:
        model = onnx.load_from_string(graph) if isinstance(graph, bytes) else onnx.load(str(graph))
    except (OSError, ValueError, DecodeError) as exc:
        raise UserError(f"{where}: cannot read the decoder graph ({exc})") from None
    return decoder_from_weights(graph_weights(model), arch)


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm of ``module`` in eval mode (call after ``module.train()``): a rebuilt decoder's
    BatchNorm layers are shifts that batch statistics would undo."""
    for child in module.modules():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            child.eval()


def save_decoder_graph(decoder: Decoder, arch: ArchConfig, path: Path) -> None:
    """Lower ``decoder`` as ``aaae export`` does (:class:`ExportDecoder`) and write its graph to ``path``."""
    example = torch.zeros(2, arch.c_dim)
    export_graph(ExportDecoder(decoder.eval()), example, Path(path), ("codes", "images"))
