"""aaae: Adversarially Approximated Autoencoders on the command line and in Python.

The light runtime (this package) runs exported ONNX bundles with onnxruntime and never imports torch. Training
and export live in :mod:`aaae_train`, installed with ``pip install "aaae[train]"``.

    import aaae_cli as aaae
    model = aaae.load("path/to/bundle")      # or a built-in name, or a Hub id user/name@revision
    images = model.sample(16, seed=0)        # uint8 (16, R, R, C)
    photo = model.edit_photo("me.jpg", {"Smiling": 1.0})   # a PIL image of the photo's size
    faces = aaae.find_faces(pil_image)       # every face with five landmarks (no model needed)

``load`` and ``Model`` (see :mod:`aaae_cli.api`) are imported on first use, so ``aaae --help`` does not load
onnxruntime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Face", "Model", "UserError", "__version__", "find_faces", "load"]

if TYPE_CHECKING:
    from aaae_cli.api import Model, load
    from aaae_cli.errors import UserError
    from aaae_cli.faces import Face, find_faces


def __getattr__(name: str) -> Any:
    if name in ("Model", "load"):
        from aaae_cli import api

        return getattr(api, name)
    if name in ("find_faces", "Face"):
        from aaae_cli import faces

        return getattr(faces, name)
    if name == "UserError":
        from aaae_cli.errors import UserError

        return UserError
    raise AttributeError(f"module 'aaae_cli' has no attribute {name!r}")
