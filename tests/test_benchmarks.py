"""The benchmark scripts cannot rot: every aaae name they import exists, and each one starts (``--help``).

The scripts in ``tests/bench/`` are not run by the suite (they take minutes to hours and need the shared data),
but they import the project's internals, which refactoring moves. A name imported inside a function fails only
when that function runs, so the imports are checked from the source, every one of them, and each script is
started once with ``--help`` (argparse exits before any work).
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, REPO

BENCH = REPO / "tests" / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))
OURS = ("aaae_cli", "aaae_train", "aaae_models")


def _imported_names(script: Path) -> list[tuple[str, str | None, int]]:
    """(module, name or None, line) for every import of aaae's own modules anywhere in ``script``."""
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] in OURS]
    return found


def test_there_are_bench_scripts() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_import_of_a_bench_script_exists(script: Path) -> None:
    missing = []
    for module_name, name, line in _imported_names(script):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing.append(f"line {line}: {module_name} ({exc})")
            continue
        if name is not None and not hasattr(module, name):
            try:  # ``from package import submodule``
                importlib.import_module(f"{module_name}.{name}")
            except ImportError:
                missing.append(f"line {line}: {module_name}.{name}")
    assert not missing, f"{script.name} imports names that no longer exist: {missing}"


@pytest.mark.slow
def test_every_bench_script_starts() -> None:
    """``--help`` of each script with a command line, all at once (each is a fresh Python with torch)."""
    runnable = [s for s in SCRIPTS if "__main__" in s.read_text(encoding="utf-8")]
    assert len(runnable) >= 10
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(BENCH)}
    processes = {
        s.name: subprocess.Popen(
            [sys.executable, str(s), "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for s in runnable
    }
    failed = {}
    for name, process in processes.items():
        output, _ = process.communicate(timeout=300)
        if process.returncode != 0 or "usage" not in output.lower():
            failed[name] = output[-800:]
    assert not failed, failed


def test_photo_canvases_makes_a_canvas_with_known_truth() -> None:
    """photo_canvases.py is a module the photo benches import (no command line): one canvas from a portrait."""
    sys.path.insert(0, str(BENCH))
    try:
        photo_canvases = importlib.import_module("photo_canvases")
    finally:
        sys.path.remove(str(BENCH))
    canvas = photo_canvases.make_canvas(DATA / "astronaut-face.jpg", np.random.default_rng(0))
    assert canvas is not None and canvas.pixels.ndim == 3 and canvas.pixels.shape[2] == 3
    assert 28 <= canvas.eye_distance <= 80 and canvas.landmarks.shape == (5, 2)


# BENCHMARKS.md is the index of current results, one section a topic; the README, docs/ and the model cards link to
# these headings' anchors, so they are spelled here once.
TOPICS = [
    "Training speed",
    "Inference speed",
    "Quality against the paper's Table I",
    "The approximator",
    "Edit judges",
    "The faces model",
    "Photo edits",
    "Studio latency",
    "Half-precision weights",
    "Memory bounds on hostile input",
]
ROOT = BENCH.parent.parent
INDEX = ROOT / "BENCHMARKS.md"
WRITE_UPS = sorted(BENCH.glob("*.md"))


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_benchmarks_is_an_index_of_current_results() -> None:
    """Each topic: one table, the command that reproduces it, its date and machine, and its write-up's link."""
    index = INDEX.read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", index, flags=re.MULTILINE) == TOPICS
    assert len(index.encode("utf-8")) <= 15_000  # an index; the write-ups hold the rest
    for topic, section in zip(TOPICS, index.split("\n## ")[1:], strict=True):
        assert len(re.findall(r"^\|---", section, flags=re.MULTILINE)) == 1, topic
        assert "Reproduce" in section and re.search(r"`(python |aaae )", section), topic
        assert re.search(r"20\d\d-\d\d-\d\d", section) and re.search(r"CPU-2|H100", section), topic
        assert re.search(r"\]\(tests/bench/\w+\.md\)", section), topic


def test_every_link_of_the_benchmark_pages_resolves() -> None:
    """Files linked from BENCHMARKS.md and the write-ups exist, and anchors name a heading of the linked page."""
    broken = []
    for page in [INDEX, *WRITE_UPS]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path, _, fragment = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif fragment:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.MULTILINE)
                if fragment not in {anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target}")
    assert not broken, broken


def test_every_write_up_names_scripts_that_exist() -> None:
    assert {"history.md", "training_speed.md", "photo_edits.md"} <= {p.name for p in WRITE_UPS}
    for page in WRITE_UPS:
        text = page.read_text(encoding="utf-8")
        assert page.name == "history.md" or "../../BENCHMARKS.md#" in text, page.name  # each write-up's topic
        missing = [s for s in re.findall(r"tests/bench/(\w+\.py)", text) if not (BENCH / s).exists()]
        assert not missing, (page.name, missing)


def test_history_is_dated_newest_first() -> None:
    dates = re.findall(r"^## (\d{4}-\d\d-\d\d)$", (BENCH / "history.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert dates and dates == sorted(dates, reverse=True) and len(set(dates)) == len(dates)
