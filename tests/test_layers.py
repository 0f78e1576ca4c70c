"""The package reads top to bottom: each module imports only from its own layer or the ones below it.

Layers, lowest first (``aaae_cli/__init__.py`` draws the same table). Within a layer, one package may not import
another (``evaluation`` and ``studio`` stand side by side). Imports inside functions count: an import deferred to
keep ``aaae --help`` light is still a dependency. Type-only imports (``if TYPE_CHECKING:``) count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
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
        for target in _imports(path, modules):
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
