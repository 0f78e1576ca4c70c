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

The package, by layer (a module imports only from its own layer or lower ones; ``tests/test_contracts.py``):

==============================  =====================================================================
``errors``                      the one user-error type (the lowest layer)
``utils/``                      plumbing: atomic writes, interrupts, progress, terminal text, checks
``images``, ``runtime``,        reading images as the models were trained on them; onnxruntime
``refine``                      sessions; refining a code at reconstruction time
``data/``                       what a data path is, dataset kinds, prepared archives
``photos/``                     faces found, framed and edited in a user's photo
``bundle/``                     the model bundle: files, config, attributes, writer, card, Hub
``api``                         the Python API: :func:`load` and :class:`Model`
``evaluation/``, ``studio/``    measuring models and deriving directions; the browser studio
``cli/``                        the ``aaae`` command line, one module per command group
==============================  =====================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Face", "Model", "UserError", "__version__", "find_faces", "load"]

if TYPE_CHECKING:
    from aaae_cli.api import Model, load
    from aaae_cli.errors import UserError
    from aaae_cli.photos.detect import Face, find_faces


def __getattr__(name: str) -> Any:
    if name in ("Model", "load"):
        from aaae_cli import api

        return getattr(api, name)
    if name in ("find_faces", "Face"):
        from aaae_cli.photos import detect

        return getattr(detect, name)
    if name == "UserError":
        from aaae_cli.errors import UserError

        return UserError
    raise AttributeError(f"module 'aaae_cli' has no attribute {name!r}")
