"""Hostile bundles: a perfect manifest around graphs and JSON that try to hurt the user (issue #13).

Each builder changes a *copy* of the tiny bundle and rewrites its manifest, so the checksums verify and
only the content is hostile: ONNX tensors stored in files outside the graph (initializers, ``Constant``
attributes, subgraph bodies, sparse initializers), and config/attributes JSON with wrong types, huge
numbers and deep nesting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from aaae_cli.bundle import write_manifest

SECRET = b"TOP-SECRET-TOKEN-0123456789abcdef"[:32]  # 32 bytes = 8 float32 values


def _external(name: str, location: str) -> TensorProto:
    """A float32 tensor of 8 values whose bytes are to be read from ``location`` (relative to the cwd)."""
    tensor = helper.make_tensor(name, TensorProto.FLOAT, [8], np.zeros(8, np.float32))
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(SECRET)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _rename_output(model: onnx.ModelProto) -> str:
    """Rename the producer of the graph output to ``<out>_pre``; returns the output name."""
    out = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [f"{out}_pre" if o == out else o for o in node.output]
    return out


def _append_leak(model: onnx.ModelProto, leaked: str, extra_nodes: list[onnx.NodeProto]) -> None:
    out = _rename_output(model)
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), "hostile_zero"))
    model.graph.node.extend(
        [
            *extra_nodes,
            helper.make_node("ReduceSum", [leaked], ["hostile_sum"], keepdims=0),
            helper.make_node("Mul", ["hostile_sum", "hostile_zero"], ["hostile_nil"]),
            helper.make_node("Add", [f"{out}_pre", "hostile_nil"], [out]),
        ]
    )


def initializer(model: onnx.ModelProto, location: str) -> None:
    model.graph.initializer.append(_external("hostile_leak", location))
    _append_leak(model, "hostile_leak", [])


def constant(model: onnx.ModelProto, location: str) -> None:
    node = helper.make_node("Constant", [], ["hostile_leak"], value=_external("hostile_value", location))
    _append_leak(model, "hostile_leak", [node])


def subgraph(model: onnx.ModelProto, location: str) -> None:
    body = helper.make_graph(
        [helper.make_node("Identity", ["hostile_inner"], ["hostile_branch"])],
        "hostile_then",
        [],
        [helper.make_tensor_value_info("hostile_branch", TensorProto.FLOAT, [8])],
        initializer=[_external("hostile_inner", location)],
    )
    other = helper.make_graph(
        [helper.make_node("Constant", [], ["hostile_else"], value=numpy_helper.from_array(np.zeros(8, np.float32)))],
        "hostile_else",
        [],
        [helper.make_tensor_value_info("hostile_else", TensorProto.FLOAT, [8])],
    )
    model.graph.initializer.append(numpy_helper.from_array(np.array(True), "hostile_cond"))
    node = helper.make_node("If", ["hostile_cond"], ["hostile_leak"], then_branch=body, else_branch=other)
    _append_leak(model, "hostile_leak", [node])


def sparse(model: onnx.ModelProto, location: str) -> None:
    indices = numpy_helper.from_array(np.arange(8, dtype=np.int64), "hostile_indices")
    model.graph.sparse_initializer.append(helper.make_sparse_tensor(_external("hostile_leak", location), indices, [8]))
    _append_leak(model, "hostile_leak", [])


ONNX_ATTACKS: dict[str, Callable[[onnx.ModelProto, str], None]] = {
    "initializer": initializer,
    "constant": constant,
    "subgraph": subgraph,
    "sparse_initializer": sparse,
}


def make_external_data_bundle(bundle: Path, attack: str, location: str = "secret.bin", graph: str = "decoder") -> None:
    """Turn ``bundle`` (a private copy) into one whose ``graph`` reads ``location``; manifest rewritten."""
    path = bundle / f"{graph}.onnx"
    model = onnx.load(str(path))
    ONNX_ATTACKS[attack](model, location)
    path.write_bytes(model.SerializeToString())
    write_manifest(bundle)


# ---------------------------------------------------------------- hostile JSON


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def rewrite_json(bundle: Path, name: str, edit: Callable[[dict], object] | str) -> None:
    """Replace ``bundle/name`` by ``edit(data)`` (or by the raw text ``edit``) and rewrite the manifest."""
    path = bundle / name
    if isinstance(edit, str):
        path.write_text(edit)
    else:
        data = json.loads(path.read_text())
        result = edit(data)
        path.write_text(json.dumps(data if result is None else result))
    write_manifest(bundle)
