"""The command line sits on top of the library: aaae_cli/cli/ imports aaae_cli, never the reverse; one console
owner; every command shows its examples."""

from __future__ import annotations

import ast
from pathlib import Path

import typer

from aaae_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]
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
    files = [*(ROOT / "aaae_cli").glob("*.py"), *(ROOT / "train").glob("*.py")]
    return [f for f in files if f not in ENTRY_POINTS]


def test_library_never_imports_the_command_line() -> None:
    upward = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[:2] == ["aaae_cli", "cli"])
        for path in _library_files()
    }
    assert {k: v for k, v in upward.items() if v} == {}


def test_consoles_are_made_in_one_place() -> None:
    """Library and command modules print through aaae_cli.progress's consoles (train/loop.py: the lead's)."""
    makers = []
    for path in [*(ROOT / "aaae_cli").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Console":
                makers.append(str(path.relative_to(ROOT)))
    assert sorted(set(makers)) == ["aaae_cli/progress.py"]


def _commands(group: typer.Typer, prefix: str = "aaae") -> list[tuple[str, typer.models.CommandInfo]]:
    found = [(f"{prefix} {c.name or c.callback.__name__}", c) for c in group.registered_commands]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return found


def test_every_command_has_examples_beside_it() -> None:
    commands = _commands(app)
    assert len(commands) == 14
    missing = [name for name, info in commands if not (info.epilog or "").startswith("Examples:")]
    assert missing == []
    for name, info in commands:
        module = info.callback.__module__
        assert module.startswith("aaae_cli.cli."), (name, module)


def _module_graph() -> dict[str, set[str]]:
    """aaae's own modules and the aaae modules each imports, function-level imports included (a cycle broken by
    importing inside a function is still a cycle: the two modules cannot be understood apart)."""
    modules: dict[str, Path] = {}
    for package, root in (("aaae_cli", ROOT / "aaae_cli"), ("aaae_train", ROOT / "train")):
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
                targets.update(subs if len(subs) == len(node.names) else [node.module, *subs])
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


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
