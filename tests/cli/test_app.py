"""Typer's own usage errors and numpy's warnings (issue #13 item 13): one ``error:`` line, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ASTRONAUT, assert_user_error, run_cli


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["sample", "-n", "abc", "x.png"], "Invalid value for '-n'"),
        (["sample", "--zoom", "0", "x.png"], "Invalid value for '--zoom'"),
        (["edit", str(ASTRONAUT)], "Missing option '--attr'"),
        (["sample", "--no-such-option"], "No such option: --no-such-option"),
        (["attributes", "nope"], "No such command 'nope'"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], fragment: str, tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert_user_error(result, fragment, "--help')")
    assert "╭" not in result.stderr and "Usage:" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_no_numpy_warning_before_the_error_line(tmp_path: Path) -> None:
    result = run_cli("sample", "-n", "1", str(tmp_path / "x.png"), "--model", "digits", "--temperature", "1e300")
    assert_user_error(result, "NaN or infinite")
    assert result.stderr.startswith("error:"), result.stderr


def test_help_and_a_bare_command_still_show_the_help() -> None:
    assert run_cli("sample", "--help").returncode == 0
    bare = run_cli("attributes")
    assert bare.returncode == 2 and "list" in bare.stdout + bare.stderr
