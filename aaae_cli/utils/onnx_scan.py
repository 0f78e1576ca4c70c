"""Refuse ONNX graphs that reach outside their own bytes, before onnxruntime sees them.

An ONNX tensor may be stored *externally* (``data_location = EXTERNAL`` plus a ``location`` path).
onnxruntime resolves that path itself, against the current directory when a graph is given as bytes, so a
bundle whose manifest verifies could still paint a user's file (``~/.cache/huggingface/token``) into an
output image. The manifest only covers the ``.onnx`` file, so the only safe rule is: a bundle's graphs are
single files, and any tensor that is not stored inline is refused.

The runtime must not import the ``onnx`` package (it is a training dependency), so this module reads the
protobuf wire format directly. It walks every place a TensorProto can sit: graph initializers (dense and
sparse), node attributes (``Constant``'s ``value``, any tensor or tensor list, sparse ones too), subgraphs
(``If``/``Loop``/``Scan`` bodies, at any depth), model-local functions and training-info graphs. Anything it
cannot parse is refused too: a graph that is not well-formed protobuf is not one to hand to onnxruntime.

It also refuses what ``aaae export`` never writes and a hostile graph uses to run forever (issue 23): control
flow (``Loop``, ``Scan``, ``If``, ``SequenceMap``; a ``Loop`` of 10^15 iterations ran for 43 minutes) and
operators outside the standard ONNX domains (``ai.onnx``, ``ai.onnx.ml``), such as onnxruntime's own
``com.microsoft`` kernels or a model-local function.
"""

from __future__ import annotations

from aaae_cli.errors import UserError

# Field numbers from onnx.proto3 (stable since ONNX 1.x).
_MODEL_GRAPH, _MODEL_TRAINING_INFO, _MODEL_FUNCTIONS = 7, 20, 25
_TRAINING_GRAPHS = (1, 2)  # TrainingInfoProto: initialization, algorithm
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_FUNCTION_NODE = 7
_NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = 4, 5, 7
_ATTR_TENSOR, _ATTR_GRAPH, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_MAX_DEPTH = 64  # nested subgraphs; a real model has a handful at most
CONTROL_FLOW = frozenset({"Loop", "Scan", "If", "SequenceMap"})
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

_VARINT, _FIXED64, _LENGTH, _START_GROUP, _END_GROUP, _FIXED32 = 0, 1, 2, 3, 4, 5


class GraphRefused(UserError):
    """An ONNX graph that stores data outside itself, or is not well-formed."""


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: memoryview) -> list[tuple[int, int, int | memoryview]]:
    """The (field number, wire type, value) triples of one message; length-delimited values as views."""
    out: list[tuple[int, int, int | memoryview]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == _VARINT:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == _LENGTH:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            out.append((number, wire, data[pos : pos + size]))
            pos += size
        elif wire == _FIXED64:
            pos += 8
        elif wire == _FIXED32:
            pos += 4
        else:  # groups are not used by ONNX
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
    return out


def _messages(data: memoryview, *numbers: int) -> list[memoryview]:
    return [value for number, wire, value in _fields(data) if number in numbers and wire == _LENGTH]  # type: ignore[misc]


def _check_tensor(data: memoryview, where: str) -> None:
    name = ""
    for number, wire, value in _fields(data):
        if number == _TENSOR_NAME and wire == _LENGTH:
            name = bytes(value).decode("utf-8", "replace")[:80]  # type: ignore[arg-type]
        elif number == _TENSOR_EXTERNAL_DATA or (number == _TENSOR_DATA_LOCATION and value != 0):
            label = f" {name!r}" if name else ""
            raise GraphRefused(
                f"{where}: tensor{label} is stored in an external file; refusing to load it "
                "(bundle graphs must be single files)"
            )


def _check_sparse(data: memoryview, where: str) -> None:
    for tensor in _messages(data, _SPARSE_VALUES, _SPARSE_INDICES):
        _check_tensor(tensor, where)


def _text(node: memoryview, number: int) -> str:
    values = [
        bytes(value).decode("utf-8", "replace") for n, wire, value in _fields(node) if n == number and wire == _LENGTH
    ]  # type: ignore[arg-type]
    return values[-1] if values else ""


def _check_operator(node: memoryview, where: str) -> None:
    """Refuse control flow and operators outside the standard domains (see the module docstring)."""
    op_type, domain = _text(node, _NODE_OP_TYPE), _text(node, _NODE_DOMAIN)
    if domain not in STANDARD_DOMAINS:
        raise GraphRefused(
            f"{where}: operator {op_type[:60]!r} of domain {domain[:60]!r} is not standard ONNX; refusing to load "
            "it (aaae's exporter writes only standard operators)"
        )
    if op_type in CONTROL_FLOW:
        raise GraphRefused(
            f"{where}: control flow ({op_type}) could run for ever; refusing to load it (aaae's exporter never "
            "writes it)"
        )


def _check_nodes(nodes: list[memoryview], where: str, depth: int) -> None:
    for node in nodes:
        for attribute in _messages(node, _NODE_ATTRIBUTE):
            for number, wire, value in _fields(attribute):
                if wire != _LENGTH:
                    continue
                assert isinstance(value, memoryview)
                if number in (_ATTR_TENSOR, _ATTR_TENSORS):
                    _check_tensor(value, where)
                elif number in (_ATTR_SPARSE, _ATTR_SPARSES):
                    _check_sparse(value, where)
                elif number in (_ATTR_GRAPH, _ATTR_GRAPHS):
                    _check_graph(value, where, depth + 1)
        _check_operator(node, where)  # after its attributes: a tensor stored outside the graph is named first


def _check_graph(data: memoryview, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise GraphRefused(f"{where}: subgraphs nested more than {_MAX_DEPTH} deep; refusing to load it")
    nodes: list[memoryview] = []
    for number, wire, value in _fields(data):
        if wire != _LENGTH:
            continue
        assert isinstance(value, memoryview)
        if number == _GRAPH_INITIALIZER:
            _check_tensor(value, where)
        elif number == _GRAPH_SPARSE_INITIALIZER:
            _check_sparse(value, where)
        elif number == _GRAPH_NODE:
            nodes.append(value)
    _check_nodes(nodes, where, depth)


def check_self_contained(model: bytes, where: str) -> None:
    """Raise :class:`GraphRefused` unless every tensor of the serialized ONNX ``model`` is stored inline and
    every operator is standard ONNX without control flow."""
    try:
        for number, wire, value in _fields(memoryview(model)):
            if wire != _LENGTH:
                continue
            assert isinstance(value, memoryview)
            if number == _MODEL_GRAPH:
                _check_graph(value, where, 0)
            elif number == _MODEL_TRAINING_INFO:
                for graph in _messages(value, *_TRAINING_GRAPHS):
                    _check_graph(graph, where, 0)
            elif number == _MODEL_FUNCTIONS:
                _check_nodes(_messages(value, _FUNCTION_NODE), where, 0)
    except ValueError as exc:
        raise GraphRefused(f"{where}: not a well-formed ONNX graph ({exc})") from None
