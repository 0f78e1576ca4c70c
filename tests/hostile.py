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

from aaae_cli.bundle.folder import write_manifest

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


# ---------------------------------------------------------------- hostile graphs (issue 23): valid ONNX that hurts


def _merge_scalar(model: onnx.ModelProto, value: str, nodes: list[onnx.NodeProto]) -> None:
    """Make the graph output depend on the float tensor ``value`` (times zero), computed by ``nodes``: the
    output is unchanged, but onnxruntime must run them."""
    _append_leak(model, value, nodes)


def _code_sum(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Nodes giving ``hostile_input_zero``, a float scalar 0 that depends on the graph's input (so that
    onnxruntime cannot fold what follows into a constant when the session is created)."""
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), "hostile_zero_in"))
    return [
        helper.make_node("ReduceSum", [model.graph.input[0].name], ["hostile_input_sum"], keepdims=0),
        helper.make_node("Mul", ["hostile_input_sum", "hostile_zero_in"], ["hostile_input_zero"]),
    ]


def loop(model: onnx.ModelProto, trips: int = 10**15) -> None:
    """A ``Loop`` of ``trips`` iterations (forever, in practice) that adds one to a counter."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["hostile_cond_in"], ["hostile_cond_out"]),
            helper.make_node("Add", ["hostile_count_in", "hostile_one"], ["hostile_count_out"]),
        ],
        "hostile_body",
        [
            helper.make_tensor_value_info("hostile_iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("hostile_cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("hostile_count_in", TensorProto.FLOAT, []),
        ],
        [
            helper.make_tensor_value_info("hostile_cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("hostile_count_out", TensorProto.FLOAT, []),
        ],
        initializer=[numpy_helper.from_array(np.ones((), np.float32), "hostile_one")],
    )
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(trips, np.int64), "hostile_trips"),
            numpy_helper.from_array(np.array(True), "hostile_true"),
        ]
    )
    nodes = _code_sum(model)
    node = helper.make_node(
        "Loop", ["hostile_trips", "hostile_true", "hostile_input_zero"], ["hostile_count"], body=body
    )
    _merge_scalar(model, "hostile_count", [*nodes, node])


def custom_domain(model: onnx.ModelProto) -> None:
    """An operator of onnxruntime's own ``com.microsoft`` domain (the exporter writes only standard ONNX)."""
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    node = helper.make_node("Gelu", ["hostile_input_zero"], ["hostile_gelu"], domain="com.microsoft")
    _merge_scalar(model, "hostile_gelu", [*_code_sum(model), node])


def allocate(model: onnx.ModelProto) -> None:
    """``ConstantOfShape`` asking for terabytes (batch x 2^20 x 2^21 floats), its shape computed from the input."""
    model.graph.initializer.append(numpy_helper.from_array(np.array([1 << 20, 1 << 14], np.int64), "hostile_scale"))
    nodes = [
        helper.make_node("Shape", [model.graph.input[0].name], ["hostile_shape"]),
        helper.make_node("Mul", ["hostile_shape", "hostile_scale"], ["hostile_huge_shape"]),
        helper.make_node("ConstantOfShape", ["hostile_huge_shape"], ["hostile_huge"]),
    ]
    _merge_scalar(model, "hostile_huge", nodes)


def slow(model: onnx.ModelProto, multiplications: int = 400, side: int = 2048) -> None:
    """A chain of ``multiplications`` products of (side x side) matrices of zeros: minutes of work (about 17
    GFLOP each) without control flow, made from the input so that none of it is done when the session is
    created, and nothing stored (the graph stays small)."""
    model.graph.initializer.append(numpy_helper.from_array(np.array([side, side], np.int64), "hostile_side"))
    nodes = [*_code_sum(model), helper.make_node("Expand", ["hostile_input_zero", "hostile_side"], ["hostile_m0"])]
    for i in range(multiplications):
        nodes.append(helper.make_node("MatMul", [f"hostile_m{i}", "hostile_m0"], [f"hostile_m{i + 1}"]))
    _merge_scalar(model, f"hostile_m{multiplications}", nodes)


def nan(model: onnx.ModelProto) -> None:
    """Every output value NaN."""
    out = _rename_output(model)
    model.graph.initializer.append(numpy_helper.from_array(np.array(np.nan, np.float32), "hostile_nan"))
    model.graph.node.append(helper.make_node("Add", [f"{out}_pre", "hostile_nan"], [out]))


def first_row_only(model: onnx.ModelProto) -> None:
    """The output holds only the batch's first row, whatever the batch (declared shape unchanged)."""
    out = _rename_output(model)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([0], np.int64), "hostile_start"),
            numpy_helper.from_array(np.array([1], np.int64), "hostile_stop"),
        ]
    )
    model.graph.node.append(helper.make_node("Slice", [f"{out}_pre", "hostile_start", "hostile_stop"], [out]))


def fixed_batch(model: onnx.ModelProto) -> None:
    """The output declares a batch of exactly 2 rows."""
    dim = model.graph.output[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = 2


def _cast(model: onnx.ModelProto, to: int) -> None:
    out = _rename_output(model)
    model.graph.node.append(helper.make_node("Cast", [f"{out}_pre"], [out], to=to))
    model.graph.output[0].type.tensor_type.elem_type = to


def bool_output(model: onnx.ModelProto) -> None:
    _cast(model, TensorProto.BOOL)


def string_output(model: onnx.ModelProto) -> None:
    _cast(model, TensorProto.STRING)


GRAPH_ATTACKS: dict[str, Callable[[onnx.ModelProto], None]] = {
    "loop": loop,
    "custom_domain": custom_domain,
    "allocate": allocate,
    "slow": slow,
    "nan": nan,
    "first_row_only": first_row_only,
    "fixed_batch": fixed_batch,
    "bool_output": bool_output,
    "string_output": string_output,
}


def make_hostile_graph_bundle(bundle: Path, attack: str, graph: str = "decoder") -> None:
    """Turn ``bundle`` (a private copy) into one whose ``graph`` does ``attack``; manifest rewritten, so it
    verifies."""
    path = bundle / f"{graph}.onnx"
    model = onnx.load(str(path))
    GRAPH_ATTACKS[attack](model)
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    write_manifest(bundle)
