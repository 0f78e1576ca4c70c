"""Every command the README, CONTRIBUTING.md and docs/ show still runs as written; the README stays a first page.

The commands are read from the fenced shell blocks (```bash, ```sh, ```shell, ```console) of the pages: each line
(joined across backslash continuations, split at ``&&`` and ``;``) that runs ``aaae``, ``python -m aaae...`` or
``torchrun ... -m aaae_cli``. A command that needs no network, no data outside the repository, no GPU and little
time (sampling a few images, editing the public-domain portraits of ``tests/data``) runs for real in a temporary
folder, with the repository files it names copied in, and must write what it says. Every other command (your own
photos, training data, the Hub, a GPU) must name a real subcommand that answers ``--help``, and use only options
that help lists, so a renamed command or option breaks the docs test instead of the reader. The commands of the
README's command table are checked the same way. Relative links must reach a file and, in a Markdown page, a
heading.
"""

from __future__ import annotations

import functools
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from aaae_cli.cli.app import app
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console"}
README_LIMIT = 15_000  # bytes: a first page, as the READMEs of typer, diffusers and accelerate are

# What may run for real: commands that read only the repository's files and finish in a second or two
# (reconstruct and interpolate refine each face's code for seconds: their --help is checked instead).
QUICK = {("sample",), ("info",), ("faces",), ("edit",), ("attributes", "list")}
BUILT_IN = {"faces", "digits"}
OUTPUT_OPTIONS = {"-o", "--out", "--separate", "--json"}
MOST_SAMPLES = 64
OPTION = re.compile(r"^-{1,2}[A-Za-z][\w-]*")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class DocCommand:
    """One command from a page: ``program`` is ``aaae`` or a module run with ``python -m``."""

    where: str
    program: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.where}: {self.program} {shlex.join(self.args)}"


# ---------------------------------------------------------------- reading the pages


def shell_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every fenced shell block, backslash continuations joined onto their first line."""
    fence: str | None = None
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip().lower()
            continue
        if fence not in SHELL_FENCES:
            continue
        if fence == "console":
            stripped = stripped.removeprefix("$ ")
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield start, pending + stripped
        pending = ""


def commands_in_line(line: str, where: str) -> list[DocCommand]:
    """The aaae commands of one shell line: split at ``&&``, ``;`` and ``|``, comments and env prefixes read."""
    tokens = shlex.split(line, comments=True)
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", ";", "||", "|"):
            segments.append([])
        else:
            segments[-1].append(token)
    commands = []
    for segment in segments:
        env = []
        while segment and ENV_ASSIGNMENT.match(segment[0]):
            name, _, value = segment.pop(0).partition("=")
            env.append((name, value))
        command = _as_command(segment, where, tuple(env))
        if command is not None:
            commands.append(command)
    return commands


def _as_command(segment: list[str], where: str, env: tuple[tuple[str, str], ...]) -> DocCommand | None:
    """``aaae ...``, ``python -m aaae...`` or ``torchrun ... -m aaae_cli ...`` as a command; None otherwise."""
    if segment[:1] == ["aaae"]:
        return DocCommand(where, "aaae", tuple(segment[1:]), env)
    if segment[:1] in (["python"], ["python3"], ["torchrun"]) and "-m" in segment:
        at = segment.index("-m")
        module = segment[at + 1] if at + 1 < len(segment) else ""
        if module.startswith("aaae"):
            program = "aaae" if module == "aaae_cli" else module
            return DocCommand(where, program, tuple(segment[at + 2 :]), env)
    return None


def page_commands(page: Path) -> list[DocCommand]:
    """Every aaae command of one page, in order."""
    name = page.relative_to(ROOT).as_posix()
    return [
        command
        for number, line in shell_lines(page.read_text(encoding="utf-8"))
        for command in commands_in_line(line, f"{name}:{number}")
    ]


def table_commands(page: Path) -> list[DocCommand]:
    """The commands in the first column of a page's tables (the README's commands beside their Python calls)."""
    name = page.relative_to(ROOT).as_posix()
    return [
        DocCommand(f"{name}:{number} (table)", "aaae", tuple(shlex.split(match.group(1))))
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if (match := re.match(r"^\| `aaae ([^`]+)` \|", line))
    ]


def all_commands() -> list[DocCommand]:
    """The commands of every page, each distinct command once (the first place that shows it)."""
    seen: dict[tuple, DocCommand] = {}
    for page in PAGES:
        for command in page_commands(page):
            seen.setdefault((command.program, command.args, command.env), command)
    return list(seen.values())


# ---------------------------------------------------------------- what a command is


def _is_group(command: Any) -> bool:
    """A command with subcommands (typer ships its own copy of click, so its classes are not ``click``'s)."""
    return isinstance(getattr(command, "commands", None), dict)


@functools.cache
def _root_command() -> Any:
    """The click command typer builds from the app (built once: it takes a while)."""
    return typer.main.get_command(app)


def command_path(args: tuple[str, ...]) -> tuple[tuple[str, ...], Any]:
    """The subcommand names at the start of ``args`` (``("attributes", "list")``) and the click command they name."""
    command = _root_command()
    path: list[str] = []
    for token in args:
        if not _is_group(command) or token not in command.commands:
            break
        command = command.commands[token]
        path.append(token)
    return tuple(path), command


def _takes_value(command: Any, option: str) -> bool:
    """Whether ``option`` of ``command`` reads the next token as its value (False for flags and unknown options)."""
    for param in command.params:
        if param.param_type_name == "option" and option in (*param.opts, *param.secondary_opts):
            return not (param.is_flag or param.count)
    return False


def options_used(args: tuple[str, ...]) -> list[str]:
    """The option names a command uses (``--attr=x`` counts as ``--attr``; ``-1:1:5`` is a value, not an option)."""
    return [match.group(0) for token in args if (match := OPTION.match(token.split("=", 1)[0]))]


@dataclass(frozen=True)
class Plan:
    """How a runnable command is run: the repository files it reads and the files it must write."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def run_plan(command: DocCommand) -> Plan | None:
    """The plan for running ``command`` for real, or None where it needs more than the repository and a moment."""
    path, click_command = command_path(command.args)
    if command.program != "aaae" or path not in QUICK or command.env:
        return None
    inputs, outputs = [], []
    rest = list(command.args[len(path) :])
    while rest:
        token = rest.pop(0)
        name, has_value, inline = token.partition("=")
        if OPTION.match(name) and _takes_value(click_command, name):
            value = inline if has_value else (rest.pop(0) if rest else "")
            if not _quick_option(name, value):
                return None
            if name in OUTPUT_OPTIONS:
                outputs.append(value)
        elif OPTION.match(name):
            continue
        elif path == ("sample",):
            outputs.append(token)
        elif _repository_file(token):
            inputs.append(token)
        else:
            return None  # the reader's own photo or folder
    return Plan(tuple(inputs), tuple(outputs))


def _quick_option(name: str, value: str) -> bool:
    """An option value that keeps a run offline, on the CPU and short."""
    if name in ("--model", "-m"):
        return value in BUILT_IN
    if name == "--device":
        return value in ("auto", "cpu")
    if name in ("-n", "--number"):
        return value.isdigit() and int(value) <= MOST_SAMPLES
    return True


def _repository_file(token: str) -> bool:
    path = (ROOT / token).resolve()
    return not Path(token).is_absolute() and path.is_relative_to(ROOT) and path.is_file()


# ---------------------------------------------------------------- the pages' own contract

COMMANDS = all_commands()
RUNNABLE = [command for command in COMMANDS if run_plan(command) is not None]
HELP_CHECKED = [command for command in COMMANDS if run_plan(command) is None] + table_commands(README)


def test_the_readme_is_a_first_page() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move reference material into docs/"


def test_the_pages_show_the_quick_start_and_the_commands_are_found() -> None:
    """The extraction finds the README's quick start, and a few commands of every kind."""
    readme = {(c.program, c.args) for c in page_commands(README)}
    assert ("aaae", ("sample", "-n", "64", "out.png")) in readme
    assert ("aaae", ("sample", "-n", "64", "out.png")) in {(c.program, c.args) for c in RUNNABLE}
    assert {command_path(c.args)[0] for c in RUNNABLE} >= {("sample",), ("edit",), ("faces",)}
    assert len(HELP_CHECKED) >= 10
    assert {command_path(c.args)[0] for c in table_commands(README)} >= {("sample",), ("edit",), ("train",)}


def test_the_extraction_reads_shell_lines_as_a_shell_would() -> None:
    """Continuations, ``&&``, comments, env prefixes, ``python -m`` and ``torchrun -m`` are read; prose is not."""
    text = "\n".join(
        [
            "aaae sample -n 1 prose.png",
            "```bash",
            "pip install . && aaae sample -n 64 out.png   # a comment",
            "aaae edit me.jpg \\",
            "  --attr smiling=-1 -o 'my photo.jpg'",
            "HF_HUB_OFFLINE=1 aaae info --model user/faces",
            "python -m aaae_train.archive data/ -o d.zip",
            "torchrun --nproc_per_node 4 -m aaae_cli train data/ --out runs/x",
            "python -m pytest -q",
            "```",
            "```python",
            "aaae.load('faces')",
            "```",
        ]
    )
    found = [command for number, line in shell_lines(text) for command in commands_in_line(line, str(number))]
    assert [(c.where, c.program, c.args, c.env) for c in found] == [
        ("3", "aaae", ("sample", "-n", "64", "out.png"), ()),
        ("4", "aaae", ("edit", "me.jpg", "--attr", "smiling=-1", "-o", "my photo.jpg"), ()),
        ("6", "aaae", ("info", "--model", "user/faces"), (("HF_HUB_OFFLINE", "1"),)),
        ("7", "aaae_train.archive", ("data/", "-o", "d.zip"), ()),
        ("8", "aaae", ("train", "data/", "--out", "runs/x"), ()),
    ]


def test_only_offline_quick_commands_are_run_for_real() -> None:
    """Your own photo, a Hub id, a GPU or many samples send a command to the --help check instead."""
    assert run_plan(DocCommand("x", "aaae", ("sample", "-n", "64", "out.png"))) == Plan((), ("out.png",))
    edit = ("edit", "tests/data/astronaut.jpg", "--attr", "male", "--sweep", "-1:1:5", "-o", "docs/x.png")
    assert run_plan(DocCommand("x", "aaae", edit)) == Plan(("tests/data/astronaut.jpg",), ("docs/x.png",))
    for args in [
        ("edit", "me.jpg", "--attr", "smiling"),
        ("sample", "--model", "user/faces", "-n", "4", "out.png"),
        ("sample", "-n", "10000", "--separate", "samples/"),
        ("sample", "-n", "4", "out.png", "--device", "cuda"),
        ("train", "tests/data/mnist", "--out", "runs/x"),
        ("reconstruct", "tests/data/astronaut.jpg", "-o", "recon.png"),
    ]:
        assert run_plan(DocCommand("x", "aaae", args)) is None, args
    assert run_plan(DocCommand("x", "aaae", ("info",), (("HF_HUB_OFFLINE", "1"),))) is None


@pytest.mark.parametrize("command", RUNNABLE, ids=str)
def test_a_quick_command_runs_as_written(command: DocCommand, tmp_path: Path) -> None:
    plan = run_plan(command)
    assert plan is not None
    for name in plan.inputs:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    for name in plan.outputs:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    result = run_cli(*command.args, cwd=tmp_path, env={"AAAE_MODEL": ""})
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    missing = [name for name in plan.outputs if not (tmp_path / name).exists()]
    assert missing == [], f"{command} did not write {missing}"


@pytest.mark.parametrize("command", HELP_CHECKED, ids=str)
def test_a_command_names_a_real_subcommand_and_real_options(command: DocCommand) -> None:
    """The command's subcommand answers ``--help``, and every option the command uses is in that help."""
    shown, help_text = _module_help(command) if command.program != "aaae" else _aaae_help(command)
    unknown = [option for option in options_used(command.args) if not _in_help(option, help_text)]
    assert unknown == [], f"{command}: not in '{shown} --help': {unknown}"


def _aaae_help(command: DocCommand) -> tuple[str, str]:
    """('aaae SUBCOMMAND', its help text), in this process; fails where a word names no subcommand."""
    path, click_command = command_path(command.args)
    shown = " ".join(["aaae", *path])
    rest = command.args[len(path) :]
    if _is_group(click_command) and rest and not rest[0].startswith("-"):
        raise AssertionError(f"{command}: '{shown}' has no subcommand {rest[0]!r}")
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, f"{command}: '{shown} --help' failed\n{result.output}"
    return shown, result.output


def _module_help(command: DocCommand) -> tuple[str, str]:
    """('python -m MODULE', its help text), from a fresh process as the page runs it."""
    shown = f"python -m {command.program}"
    result = subprocess.run(
        [sys.executable, "-m", command.program, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, f"{command}: '{shown} --help' failed\n{result.stderr}"
    return shown, result.stdout


def _in_help(option: str, help_text: str) -> bool:
    """``option`` appears in the help as a whole option name (``-o`` is not found inside ``--out``)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


# ---------------------------------------------------------------- links between the pages

LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (lines in code blocks that start with ``#`` are comments, not headings)."""
    anchors, in_code = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        elif line.startswith("#") and not in_code:
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def _reaches(page: Path, target: str) -> bool:
    """Whether a relative link of ``page`` names an existing file and, for a Markdown page, one of its headings."""
    name, _, anchor = target.partition("#")
    file = (page.parent / name).resolve() if name else page
    if not file.exists():
        return False
    return not anchor or file.suffix != ".md" or anchor in _anchors(file)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_reaches_a_file_and_a_heading(page: Path) -> None:
    targets = [match.group(1) or match.group(2) for match in LINK.finditer(page.read_text(encoding="utf-8"))]
    relative = [target for target in targets if not re.match(r"^[a-z]+:", target)]  # not https:, mailto:
    assert relative, "no links found: the pattern is wrong"
    assert [target for target in relative if not _reaches(page, target)] == []
