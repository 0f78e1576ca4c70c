"""The light CLI: help texts, and no torch import for anything but training and export."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import run_cli

NO_TORCH = """
import sys
from aaae_cli.cli import main
sys.argv = ["aaae", *{args!r}]
try:
    main()
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("torch", "onnx", "onnxscript") if m in sys.modules)
print("HEAVY:", heavy, "CODE:", code)
"""


def _imports_for(*args: str) -> str:
    script = NO_TORCH.format(args=list(args))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120).stdout


def test_help_never_imports_torch() -> None:
    assert "HEAVY: [] CODE: 0" in _imports_for("--help")
    assert "HEAVY: [] CODE: 0" in _imports_for("train", "--help")


def test_help_has_examples() -> None:
    result = run_cli("train", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "aaae train ~/photos --out runs/photos" in text
    assert "torchrun --nproc_per_node 4" in text and "resume" in text


def test_version_and_unknown_option() -> None:
    assert run_cli("--version").stdout.startswith("aaae ")
    result = run_cli("train", "--no-such-option")
    assert result.returncode == 2 and "Traceback" not in result.stderr
