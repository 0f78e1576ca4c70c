"""Store an exported ONNX graph's weights as float16 (``aaae export --weights fp16``): half the file, same inputs.

Why: a bundle ships inside the wheel and a lent GPU machine returns files of at most 16 MiB, so the largest
model that can be trained there and shipped is bounded by its graphs' bytes: the faces encoder at width 0.7 and
c = 256 is 22.6 MB in float32. Stored in float16, every large weight tensor is followed by a ``Cast`` back to
float32, so the graph still computes in float32 and its interface is unchanged; onnxruntime folds the casts
when it loads the graph. What is lost is the weights' precision beyond 11 bits (a relative rounding of at most
2^-11), measured on each export as the graphs' difference from PyTorch and the held-out reconstruction error.

:func:`store_bundle_weights_fp16` does the same to a bundle already exported in float32 whose training checkpoint
is gone (the shipped ``faces``: ``scripts/store_bundle_fp16.py``), checked against its own float32 graphs.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from aaae_cli.bundle.folder import Bundle
from aaae_cli.bundle.writer import save_bundle
from aaae_cli.errors import UserError
from aaae_cli.runtime import Graph

MIN_ELEMENTS = 256  # smaller tensors (biases, norms) stay float32: they weigh nothing and keep their precision
SUFFIX = "__fp16"
HALF_TOLERANCE = 2e-2  # largest output difference from float32, relative to the output's scale: 2^-11 per weight
PROBES = 64  # noise vectors whose codes, and decoded images, check a converted bundle's graphs
PROBE_SEED = 20190215


def store_weights_fp16(path: Path) -> int:
    """Rewrite the graph at ``path`` with its float32 initializers of at least :data:`MIN_ELEMENTS` values stored
    as float16 and cast back on use; returns how many tensors were converted."""
    model = onnx.load(str(path))
    converted = halve_weights(model)
    onnx.save(model, str(path))
    return converted


def halve_weights(model: onnx.ModelProto) -> int:
    """:func:`store_weights_fp16` on a loaded graph, changed in place; returns how many tensors were converted."""
    graph = model.graph
    inputs = {i.name for i in graph.input}
    casts = []
    for tensor in graph.initializer:
        if tensor.data_type != onnx.TensorProto.FLOAT or tensor.name in inputs:
            continue
        values = numpy_helper.to_array(tensor)
        if values.size < MIN_ELEMENTS or not np.all(np.abs(values) <= np.finfo(np.float16).max):
            continue
        name = tensor.name
        tensor.CopyFrom(numpy_helper.from_array(values.astype(np.float16), name + SUFFIX))
        casts.append(helper.make_node("Cast", [name + SUFFIX], [name], to=onnx.TensorProto.FLOAT, name=name + "_cast"))
    nodes = [*casts, *graph.node]  # the casts first: every consumer comes after its cast
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return len(casts)


def halved_graph(model: bytes) -> bytes:
    """The ONNX graph ``model`` with its weights stored in float16 (:func:`halve_weights`)."""
    graph = onnx.load_from_string(model)
    halve_weights(graph)
    return graph.SerializeToString()


def store_bundle_weights_fp16(folder: Path) -> dict[str, float]:
    """Rewrite the float32 bundle ``folder`` in place with its graphs' weights in float16; returns each graph's
    largest output difference from its float32 self, refused (nothing written) beyond :data:`HALF_TOLERANCE`.

    The probes are the bundle's own: fixed noise, the approximator's codes of it, and the decoder's images of those
    codes (so no data is needed). Everything else in the bundle (directions, calibrations, card notes, the sample
    grid) was measured on the float32 graphs and is kept; ``config.export`` records the conversion and its check.
    """
    folder = Path(folder)
    bundle = Bundle(folder)
    config = bundle.config
    if (config.export or {}).get("weights") == "fp16":
        raise UserError(f"{folder}: its weights are already stored in float16")
    full = {name: bundle.graph_bytes(name) for name in config.graphs}
    half = {name: halved_graph(model) for name, model in full.items()}
    z = np.random.default_rng(PROBE_SEED).standard_normal((PROBES, config.z_dim)).astype(np.float32)
    codes = Graph("approximator", full["approximator"], "cpu").run(z)
    images = Graph("decoder", full["decoder"], "cpu").run(codes)
    codes_of_images = Graph("encoder", full["encoder"], "cpu").run(images)
    # each graph's input, and what its float32 self gave for it
    probes = {"approximator": (z, codes), "decoder": (codes, images), "encoder": (images, codes_of_images)}
    diffs = {}
    for name, (x, expected) in probes.items():
        diff = float(np.abs(Graph(name, half[name], "cpu").run(x) - expected).max())
        tolerance = HALF_TOLERANCE * max(1.0, float(np.abs(expected).max()))
        if not diff <= tolerance:
            raise UserError(f"{folder}: {name} in float16 differs by {diff:.3g} (tolerance {tolerance:.1g})")
        diffs[name] = diff
    record = {
        **(config.export or {}),
        "weights": "fp16",
        "weights_fp16": {
            "date": datetime.date.today().isoformat(),
            "from": "the bundle's float32 graphs (aaae_train.half_weights.store_bundle_weights_fp16)",
            "checked_on": f"{PROBES} noise vectors, their codes and decoded images",
            "max_abs_diff_from_fp32": diffs,
        },
    }
    changed = {config.graphs[name].file: model for name, model in half.items()}
    save_bundle(bundle, dataclasses.replace(config, export=record), folder, changed=changed)
    return diffs
