"""aaae_models: the built-in model bundles, shipped inside the wheel.

Each sub-folder is one bundle in Hugging Face Hub layout (``config.json``, ``*.onnx``, ``attributes.json``,
``README.md``, ``sample.png``, ``checksums.sha256``); its folder name is the model's built-in name, as in
``aaae sample --model NAME``. ``DEFAULT`` names the model used when no ``--model`` is given.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT: str | None = "faces"
