"""Terminal injection (issue #13 item 2): escape sequences and newlines in file names, and rich markup or emoji
codes in user text, must reach the terminal as visible text, never as control sequences or a forged line."""

from __future__ import annotations

from pathlib import Path

from aaae_cli.utils.terminal import plain, shown
from tests.conftest import assert_user_error, run_cli

HOSTILE = "photo\x1b]0;owned\x07\x1b[2J\nerror: forged [red]x :b:.png"


def test_a_hostile_file_name_is_shown_escaped(tmp_path: Path) -> None:
    bad = tmp_path / HOSTILE
    bad.write_text("not a picture")
    result = run_cli("reconstruct", str(bad), "-o", str(tmp_path / "out.png"), "--model", "digits")
    assert_user_error(result, "\\x1b]0;owned\\x07", "\\nerror: forged [red]x :b:.png")  # one error: line
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_written_names_and_option_values_are_shown_escaped(tmp_path: Path) -> None:
    out = tmp_path / "s\x1b[31m.png"
    result = run_cli("sample", "-n", "1", str(out), "--model", "digits", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr and "s\\x1b[31m.png" in result.stderr
    sweep = run_cli("edit", str(out), "--attr", "digit_1", "--sweep", "a:b:c", "-o", str(tmp_path / "e.png"))
    assert_user_error(sweep, "--sweep 'a:b:c'")  # ':b:' is text, not an emoji


def test_shown() -> None:
    assert plain("a\nb\x9b\u202e") == "a\\nb\\x9b\\u202e"
    assert shown("[bold]x") == "\\[bold]x"


def test_a_run_folder_name_with_markup_is_not_read_as_markup(tmp_path: Path, cache_dir: Path) -> None:
    """``--out 'runs/a[/x]b'`` ended in rich's MarkupError (a traceback) when training finished."""
    from tests.conftest import MNIST, TINY

    run = tmp_path / "a[/x]b"
    args = ["train", str(MNIST), "--out", str(run), "--cache-dir", str(cache_dir), *TINY]
    result = run_cli(*args, "--max-steps", "2", "--approx-steps", "2")
    assert result.returncode == 0, result.stderr
    assert f"Model: {run}/best.pt" in " ".join(result.stderr.split())
