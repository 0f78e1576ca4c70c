"""The light CLI: help texts, no torch import for anything but training and export, no Gradio but in the studio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import MNIST, assert_user_error, run_cli

NO_TORCH = """
import sys
from aaae_cli.cli import main
sys.argv = ["aaae", *{args!r}]
try:
    main()
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("torch", "onnx", "onnxscript", "gradio") if m in sys.modules)
print("HEAVY:", heavy, "CODE:", code)
print("ORT:", "onnxruntime" in sys.modules)
# aaae_train.options (torch-free, with the shape checks it imports) gives the train command its defaults; nothing
# else of aaae_train may load.
light = ("aaae_train", "aaae_train.options", "aaae_train.shapes")
print("TRAIN:", sorted(m for m in sys.modules if m.startswith("aaae_train") and m not in light))
"""


def _imports_for(*args: str, cwd: Path | None = None) -> str:
    script = NO_TORCH.format(args=list(args))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=cwd)
    return result.stdout + result.stderr


def test_help_never_imports_torch() -> None:
    for args in (["--help"], ["train", "--help"], ["sample", "--help"], ["export", "--help"], ["studio", "--help"]):
        report = _imports_for(*args)
        assert "HEAVY: [] CODE: 0" in report and "TRAIN: []" in report, report
        assert "ORT: False" in report, report  # help does not even load onnxruntime


def test_runtime_commands_never_import_torch(tiny_bundle: Path, digit_files: list[Path], tmp_path: Path) -> None:
    """The commands users run on a laptop, on a real bundle: onnxruntime, never torch or onnx."""
    m = ["--model", str(tiny_bundle)]
    a, b = str(digit_files[0]), str(digit_files[1])
    for args in (
        ["sample", "-n", "8", "s.png", *m],
        ["reconstruct", a, b, "-o", "r.png", *m],
        ["interpolate", a, b, "-o", "i.gif", *m],
        ["edit", a, "--attr", "digit_3", "-o", "e.png", *m],
        ["info", *m],
        ["attributes", "list", *m],
        ["attributes", "compute", *m, "--data", str(MNIST), "--out", "copy"],
    ):
        report = _imports_for(*args, cwd=tmp_path)
        assert "HEAVY: [] CODE: 0" in report and "TRAIN: []" in report, (args, report)
        assert "ORT: True" in report, report
    assert {p.name for p in tmp_path.iterdir()} == {"s.png", "r.png", "i.gif", "e.png", "copy"}


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


WITHOUT_TORCH = """
import sys
sys.modules.update({{"torch": None, "onnx": None, "onnxscript": None}})  # as on a machine without them
from aaae_cli.cli import main
sys.argv = ["aaae", *{args!r}]
main()
"""


def test_runtime_works_where_torch_is_not_installed(tiny_bundle: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        script = WITHOUT_TORCH.format(args=list(args))
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    result = run("sample", "-n", "4", "s.png", "--model", str(tiny_bundle))
    assert result.returncode == 0 and (tmp_path / "s.png").is_file(), result.stderr
    result = run("export", str(tmp_path), str(tmp_path / "bundle"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "needs PyTorch and ONNX: pip install 'aaae[train]'" in " ".join(result.stderr.split())


def test_studio_without_gradio_says_how_to_install_it(tmp_path: Path) -> None:
    """Without the 'studio' extra: one error line naming the install command, exit 2 (and no server started)."""
    script = WITHOUT_TORCH.replace('"onnxscript": None', '"onnxscript": None, "gradio": None').format(
        args=["studio", "--no-browser"]
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert_user_error(result, 'pip install "aaae[studio]"')
