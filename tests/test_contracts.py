"""Contracts that hold across the whole package, whatever the command.

- The layers: each module imports only from its own layer or the ones below it (lowest first: errors < utils <
  images/runtime/refine < data < photos < bundle < api < evaluation/studio < aaae_train < cli; within a layer, one
  package may not import another). Imports inside functions and type-only imports count: a deferred import is
  still a dependency. No import cycles; the library never imports the command line.
- Light: help texts without torch; no torch for anything but training and export; no Gradio but in the studio.
- One console owner; every command shows its examples.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import typer

from aaae_cli.cli import app
from tests.conftest import MNIST, REPO, assert_user_error, run_cli

# --- layers ------------------------------------------------------------

ROOT = REPO
LAYERS: list[set[str]] = [
    {"errors"},
    {"utils"},
    {"images", "runtime", "refine"},
    {"data"},
    {"photos"},
    {"bundle"},
    {"api"},
    {"evaluation", "studio"},
    {"aaae_train"},  # the training package builds on the runtime library and writes the bundles it reads
    {"cli"},
]
FACADES = {"aaae_cli", "aaae_cli.__main__", "aaae_train.__main__"}  # the public lazy facade; `python -m` entries


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package, root in (("aaae_cli", ROOT / "aaae_cli"), ("aaae_train", ROOT / "train")):
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports_within(path: Path, modules: dict[str, Path]) -> set[str]:
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            targets.update(subs if len(subs) == len(node.names) else [node.module, *subs])
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    return {t for t in targets if t in modules}


def _part(module: str) -> str:
    """The layer part a module belongs to: ``aaae_cli.photos.edit`` -> ``photos``; ``aaae_train.loop`` ->
    ``aaae_train``."""
    parts = module.split(".")
    return "aaae_train" if parts[0] == "aaae_train" else parts[1]


def _layer(part: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def test_every_module_has_a_layer() -> None:
    parts = {_part(m) for m in _modules() if m not in FACADES}
    assert parts <= set().union(*LAYERS)
    assert len(parts) == len(set().union(*LAYERS))  # no layer names a package that is gone


def test_no_import_goes_up_or_sideways() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if name in FACADES:
            continue
        for target in _imports_within(path, modules):
            if target in FACADES and target != "aaae_cli":
                wrong.append(f"{name} -> {target}")
                continue
            if target == "aaae_cli":  # `from aaae_cli import __version__`
                continue
            mine, theirs = _part(name), _part(target)
            if _layer(theirs) > _layer(mine) or (_layer(theirs) == _layer(mine) and theirs != mine):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_every_sub_package_says_what_its_modules_are_for() -> None:
    """Each sub-package's ``__init__`` docstring is a table naming every module in it."""
    unnamed = []
    for init in (ROOT / "aaae_cli").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        for module in init.parent.glob("*.py"):
            if module.stem != "__init__" and f"``{module.stem}``" not in doc and f":mod:`.{module.stem}`" not in doc:
                unnamed.append(str(module.relative_to(ROOT)))
    assert unnamed == []


# --- the command line on top ------------------------------------------------------------

ENTRY_POINTS = {ROOT / "aaae_cli" / "__main__.py", ROOT / "train" / "__main__.py"}  # `python -m`: they run main


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _library_files() -> list[Path]:
    files = [*(ROOT / "aaae_cli").rglob("*.py"), *(ROOT / "train").glob("*.py")]
    cli = ROOT / "aaae_cli" / "cli"
    return [f for f in files if f not in ENTRY_POINTS and cli not in f.parents]


def test_library_never_imports_the_command_line() -> None:
    upward = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[:2] == ["aaae_cli", "cli"])
        for path in _library_files()
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_consoles_are_made_in_one_place() -> None:
    """Library and command modules print through aaae_cli.utils.progress's consoles (train/loop.py: the lead's)."""
    makers = []
    for path in [*(ROOT / "aaae_cli").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Console":
                makers.append(str(path.relative_to(ROOT)))
    assert sorted(set(makers)) == ["aaae_cli/utils/progress.py"]


def _commands(group: typer.Typer, prefix: str = "aaae") -> list[tuple[str, typer.models.CommandInfo]]:
    found = [(f"{prefix} {c.name or c.callback.__name__}", c) for c in group.registered_commands]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return found


def test_every_command_has_examples_beside_it() -> None:
    commands = _commands(app)
    assert len(commands) == 16
    missing = [name for name, info in commands if not (info.epilog or "").startswith("Examples:")]
    assert missing == []
    for name, info in commands:
        module = info.callback.__module__
        assert module.startswith("aaae_cli.cli."), (name, module)


def _module_graph() -> dict[str, set[str]]:
    """aaae's own modules and the aaae modules each imports, function-level imports included (a cycle broken by
    importing inside a function is still a cycle: the two modules cannot be understood apart)."""
    modules = _modules()
    return {name: _imports_within(path, modules) - {name} for name, path in modules.items()}


def test_no_import_cycles() -> None:
    graph = _module_graph()
    assert len(graph) > 50
    cycles = []
    for start in graph:  # a module that reaches itself through its imports
        seen, frontier = set(), list(graph[start])
        while frontier:
            module = frontier.pop()
            if module == start:
                cycles.append(start)
                break
            if module not in seen:
                seen.add(module)
                frontier.extend(graph[module])
    assert cycles == []


# --- light imports ------------------------------------------------------------

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
    for args in (
        ["--help"],
        ["train", "--help"],
        ["sample", "--help"],
        ["export", "--help"],
        ["studio", "--help"],
        ["data", "pack", "--help"],
        ["evaluator", "train", "--help"],
    ):
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
