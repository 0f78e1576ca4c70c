"""Store an exported ONNX graph's weights as float16 (``aaae export --weights fp16``): half the file, same inputs.

Why: a bundle ships inside the wheel and a lent GPU machine returns files of at most 16 MiB, so the largest
model that can be trained there and shipped is bounded by its graphs' bytes: the faces encoder at width 0.7 and
c = 256 is 22.6 MB in float32. Stored in float16, every large weight tensor is followed by a ``Cast`` back to
float32, so the graph still computes in float32 and its interface is unchanged; onnxruntime folds the casts
when it loads the graph. What is lost is the weights' precision beyond 11 bits (a relative rounding of at most
2^-11), measured on each export as the graphs' difference from PyTorch and the held-out reconstruction error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_ELEMENTS = 256  # smaller tensors (biases, norms) stay float32: they weigh nothing and keep their precision
SUFFIX = "__fp16"


def store_weights_fp16(path: Path) -> int:
    """Rewrite the graph at ``path`` with its float32 initializers of at least :data:`MIN_ELEMENTS` values stored
    as float16 and cast back on use; returns how many tensors were converted."""
    model = onnx.load(str(path))
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
    onnx.save(model, str(path))
    return len(casts)
