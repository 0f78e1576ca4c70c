"""Attribute directions in code space (paper, Section 4): mean code with an attribute minus mean code without.

An edit adds ``strength * scale * direction`` to an image's code. ``scale`` (1.0 unless calibrated) lets a
bundle say how far "one unit" of each attribute goes; the per-class mean and spread of the codes'
projections on the direction are stored too, so strengths can be calibrated later without a new format.
Names match case-insensitively; an unknown name is refused with the valid ones and the nearest match.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aaae_cli.bundle.safe_json import ATTRIBUTES_SCHEMA, check, load_json
from aaae_cli.errors import UserError

FORMAT = "aaae-attributes"
FORMAT_VERSION = 1
MAX_BYTES = 64 << 20  # 40 directions of 128 numbers take 160 kB


@dataclass
class Attribute:
    """One named direction in code space."""

    name: str
    direction: np.ndarray  # float32 (c_dim,): mean(codes | attribute) - mean(codes | no attribute)
    positive: int  # images with the attribute it was computed from
    negative: int  # images without it
    scale: float = 1.0  # strength 1 moves a code by scale * direction
    projection: dict[str, dict[str, float]] = field(default_factory=dict)  # {"positive"|"negative": {mean, std}}
    source: dict[str, Any] = field(default_factory=dict)  # where the labels came from
    photo_scale: float | None = None  # strength 1 on a photo (the change added to the real photo) moves this far
    # strength -1 on a photo (removing the attribute) moves this far; None: as far as adding it (photo_scale)
    photo_scale_remove: float | None = None

    @property
    def scale_for_photos(self) -> float:
        """The scale of photo edits: a change added to a real photo needs further than the model's own image."""
        return self.scale if self.photo_scale is None else self.photo_scale

    def photo_scale_for(self, strength: float) -> float:
        """The photo scale for a strength: removing an attribute (strength < 0) may need another distance."""
        if strength < 0 and self.photo_scale_remove is not None:
            return self.photo_scale_remove
        return self.scale_for_photos

    @property
    def separation(self) -> float:
        """How far apart the two classes lie along the direction, in pooled standard deviations (d')."""
        pos, neg = self.projection.get("positive"), self.projection.get("negative")
        if not pos or not neg:
            return float("nan")
        spread = np.sqrt((pos["std"] ** 2 + neg["std"] ** 2) / 2)
        return float((pos["mean"] - neg["mean"]) / spread) if spread > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "positive": self.positive,
            "negative": self.negative,
            "scale": self.scale,
            **({"photo_scale": self.photo_scale} if self.photo_scale is not None else {}),
            **({"photo_scale_remove": self.photo_scale_remove} if self.photo_scale_remove is not None else {}),
            "norm": float(np.linalg.norm(self.direction)),
            "projection": self.projection,
            "source": self.source,
            "direction": [float(v) for v in self.direction.astype(np.float32)],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], c_dim: int) -> Attribute:
        direction = np.asarray(data["direction"], dtype=np.float32)
        if direction.shape != (c_dim,) or not np.all(np.isfinite(direction)):
            raise ValueError(f"attribute {data.get('name')!r}: direction is not {c_dim} finite numbers")
        return cls(
            name=str(data["name"]),
            direction=direction,
            positive=int(data["positive"]),
            negative=int(data["negative"]),
            scale=float(data.get("scale", 1.0)),
            photo_scale=float(data["photo_scale"]) if data.get("photo_scale") is not None else None,
            photo_scale_remove=_positive(data.get("photo_scale_remove"), data.get("name")),
            projection={k: {kk: float(vv) for kk, vv in v.items()} for k, v in (data.get("projection") or {}).items()},
            source=dict(data.get("source") or {}),
        )


def _positive(value: Any, name: Any) -> float | None:
    """An optional scale from a bundle: ``None``, or a finite number above 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < float(value) < 1e6:
        raise ValueError(f"attribute {name!r}: photo_scale_remove must be a positive number")
    return float(value)


class AttributeSet(Mapping[str, Attribute]):
    """The attributes of a model, by name, looked up case-insensitively."""

    def __init__(self, attributes: Sequence[Attribute] = ()) -> None:
        self._items = {a.name: a for a in attributes}

    def __getitem__(self, name: str) -> Attribute:
        return self._items[self.resolve(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(name.lower() == key.lower() for key in self._items)

    def resolve(self, name: str) -> str:
        """The stored name for ``name`` (any case); :class:`UserError` listing the valid names if unknown."""
        if name in self._items:
            return name
        folded = {key.lower(): key for key in self._items}
        if name.lower() in folded:
            return folded[name.lower()]
        if not self._items:
            raise UserError(
                f"unknown attribute {name!r}: this model has no attribute directions "
                "(add some with 'aaae attributes compute')"
            )
        close = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.5)
        hint = f"; did you mean {folded[close[0]]!r}?" if close else ""
        raise UserError(f"unknown attribute {name!r}{hint} (valid: {', '.join(self._items)})")

    def merged(self, new: Sequence[Attribute], replace: bool = False) -> AttributeSet:
        """These attributes with ``new`` ones added (same names replaced); only ``new`` if ``replace``."""
        replaced = {n.name.lower() for n in new}
        kept = [] if replace else [a for a in self._items.values() if a.name.lower() not in replaced]
        return AttributeSet([*kept, *new])

    def shift(self, edits: Mapping[str, float], keep: Sequence[str] = (), photo: bool = False) -> np.ndarray:
        """The code offset for ``{name: strength}``: sum of strength * scale * direction.

        ``keep``: attributes that must not change; each edited direction loses its component along them
        (projected onto the orthogonal complement of their span: InterFaceGAN's conditional manipulation,
        for any number of kept attributes). ``photo``: use the scales calibrated for photo edits.
        """
        if not edits:
            raise UserError("no attribute given")
        edited = {self.resolve(name) for name in edits}
        kept: list[str] = []
        for name in keep:
            key = self.resolve(name)
            if key in edited:
                raise UserError(f"--keep {name!r}: that attribute is the one being edited")
            if key not in kept:
                kept.append(key)
        basis = _orthonormal([self._items[k].direction for k in kept])
        total = np.zeros_like(next(iter(self._items.values())).direction, dtype=np.float64)
        for name, strength in edits.items():
            attribute = self[name]
            direction = attribute.direction.astype(np.float64)
            if basis is not None:
                direction = direction - basis.T @ (basis @ direction)
            scale = attribute.photo_scale_for(strength) if photo else attribute.scale
            total += strength * scale * direction
        return total.astype(np.float32)

    def to_json(self, c_dim: int) -> str:
        data = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "c_dim": c_dim,
            "method": "mean code of images with the attribute minus mean code of images without it",
            "attributes": [a.to_json() for a in self._items.values()],
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: bytes | str, c_dim: int, where: str) -> AttributeSet:
        data = load_json(text, where, MAX_BYTES)
        check(data, ATTRIBUTES_SCHEMA, where)
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT!r}")
            if int(data.get("format_version", 0)) > FORMAT_VERSION:
                raise UserError(f"{where}: attribute format is newer than this aaae reads; upgrade aaae")
            return cls([Attribute.from_json(item, c_dim) for item in data["attributes"]])
        except UserError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{where}: unreadable attribute file ({exc})") from None


def _orthonormal(directions: Sequence[np.ndarray]) -> np.ndarray | None:
    """An orthonormal basis (K, c) of the span of ``directions`` (QR), or ``None`` when there are none."""
    if not directions:
        return None
    q, r = np.linalg.qr(np.stack([d.astype(np.float64) for d in directions], axis=1))
    independent = np.abs(np.diag(r)) > 1e-9 * max(1.0, float(np.abs(r).max()))
    return q[:, independent].T
