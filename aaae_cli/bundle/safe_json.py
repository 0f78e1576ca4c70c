"""Bounded, typed JSON for bundle files: a checksum says a file is the one its author wrote, not that it is sane.

A bundle from the Hub can hold ``config.json`` and ``attributes.json`` whose manifest verifies but whose
content is hostile: megabytes of nesting (``json`` recurses until Python's stack gives out), ``1e999`` (parsed
as infinity), ``NaN``, or ``null``/text/lists where the commands expect numbers and sections. This module
parses with bounds on size and depth, refuses non-finite numbers, and checks the types of every field the
commands read, so each of these is one ``error:`` line instead of a traceback somewhere later.

A schema is a type (``int``, ``float``: any finite number, ``str``, ``bool``, ``list``, ``dict``), ``ANY``, a
list ``[item schema]``, or a dict ``{key: schema}`` (an object; listed keys are checked when present; ``null``
stands for "absent" in optional places, as the commands treat it).
"""

from __future__ import annotations

import json
import math
from typing import Any

from aaae_cli.errors import UserError

MAX_DEPTH = 64
ANY = object()

# What the commands, the model card and the Python API read from config.json (issue #13: each crashed).
CONFIG_SCHEMA: dict[str, Any] = {
    "format": str,
    "format_version": int,
    "name": str,
    "aaae_version": str,
    "license": str,
    "hub_id": str,
    "resolution": int,
    "channels": int,
    "z_dim": int,
    "c_dim": int,
    "pixel_range": [float],
    "preprocessing": {
        "resolution": int,
        "channels": int,
        "crop": float,
        "crop_mode": str,
        "resize": str,
        "exif_transpose": bool,
        "transparency": str,
        "layout": str,
    },
    "graphs": {"encoder": dict, "decoder": dict, "approximator": dict},
    "attributes": {"file": str, "count": int, "names": [str], "split": str, "images": int},
    "training": {
        "data": {
            "name": str,
            "kind": str,
            "train_images": int,
            "val_images": int,
            "val_fraction": float,
            "sources": int,
        },
        "arch": dict,
        "parameters": dict,
        "schedule": str,
        "steps": int,
        "approx_steps": int,
        "best_step": int,
        "ema": bool,
        "options": dict,
    },
    "metrics": dict,
    "export": {"date": str},
    "card": {
        "model_ref": str,
        "license_name": str,
        "data_terms": str,
        "training": {"command": str, "time": str},
        "evaluation": {"text": str, "rows": [list], "command": str},
        "observations": [str],
        "limitations": [str],
    },
}
_GRAPH_SCHEMA: dict[str, Any] = {"file": str, "input": str, "output": str}
ATTRIBUTE_SCHEMA: dict[str, Any] = {
    "name": str,
    "positive": int,
    "negative": int,
    "scale": float,
    "projection": {"positive": {"mean": float, "std": float}, "negative": {"mean": float, "std": float}},
    "source": dict,
    "direction": [float],
}
ATTRIBUTES_SCHEMA: dict[str, Any] = {
    "format": str,
    "format_version": int,
    "c_dim": int,
    "attributes": [ATTRIBUTE_SCHEMA],
}


class BadJSON(UserError):
    """A bundle JSON file that is too large, too deep, not finite or of the wrong shape."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in ``text``, outside strings (no recursion, so no stack to exhaust)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def load_json(data: bytes | str, where: str, max_bytes: int) -> Any:
    """Parse ``data`` (at most ``max_bytes``, nesting at most :data:`MAX_DEPTH`, finite numbers only)."""
    if len(data) > max_bytes:
        raise BadJSON(f"{where}: {len(data):,} bytes is more than the {max_bytes:,} this file may have")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if _depth(text) > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} deep")
        return json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadJSON(f"{where}: not valid JSON ({str(exc)[:200]})") from None


def _type_name(value: Any) -> str:
    return {type(None): "null", bool: "true/false", dict: "an object", list: "a list", str: "text"}.get(
        type(value), "a number"
    )


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check(value: Any, schema: Any, where: str, path: str = "") -> None:
    """Raise :class:`BadJSON` naming the first field of ``value`` that does not fit ``schema``."""
    if schema is ANY:
        return
    label = path or "the file"
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise BadJSON(f"{where}: {label} should be an object, not {_type_name(value)}")
        for key, sub in schema.items():
            if value.get(key) is not None:
                check(value[key], sub, where, f"{path}.{key}" if path else key)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise BadJSON(f"{where}: {label} should be a list, not {_type_name(value)}")
        for index, item in enumerate(value):
            check(item, schema[0], where, f"{path}[{index}]")
    elif not _fits(value, schema):
        wanted = {int: "a whole number", float: "a number", str: "text", bool: "true/false"}.get(
            schema, f"{_type_name(schema())}"
        )
        raise BadJSON(f"{where}: {label} should be {wanted}, not {_type_name(value)}")


def check_config(data: Any, where: str) -> None:
    """The types of everything read from ``config.json`` (the graph specs included)."""
    check(data, CONFIG_SCHEMA, where)
    for name, spec in (data.get("graphs") or {}).items():
        check(spec, _GRAPH_SCHEMA, where, f"graphs.{name}")
    metrics = data.get("metrics") or {}
    for key, value in metrics.items():
        if isinstance(value, list):
            raise BadJSON(f"{where}: metrics.{key} should be a number, text or an object, not a list")
