"""The one progress convention (aaae_cli.utils.progress): silent by default, hostile text shown safely."""

from __future__ import annotations

import io

from rich.console import Console

from aaae_cli.utils.progress import SILENT, RichProgress, or_silent


def _console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, emoji=False, width=200), stream


def test_none_is_silent() -> None:
    progress = or_silent(None)
    assert progress is SILENT
    progress.message("nothing")
    progress.status("nothing")
    with progress.task("work", 10) as task:
        task.advance(3)
        task.update(done=5, description="more", info="x")


def test_messages_escape_control_characters_and_markup() -> None:
    console, stream = _console()
    with RichProgress(console) as progress:
        progress.message("name\x1b]0;owned\x07 [red]x[/] :b:\nerror: forged")
    text = stream.getvalue()
    assert text == "name\\x1b]0;owned\\x07 [red]x[/] :b:\\nerror: forged\n"


def test_kept_task_counts_and_transient_task_needs_a_terminal() -> None:
    console, stream = _console()
    progress = RichProgress(console)
    with progress.task("encoding", 4) as task:  # transient, not a terminal: nothing
        task.advance(4)
    assert stream.getvalue() == ""
    with progress.task("training", 4, done=1, transient=False) as task:
        task.advance(2)
        task.update(info="loss [0.5]")
    assert "training" in stream.getvalue() and "3/4" in stream.getvalue() and "loss [0.5]" in stream.getvalue()


def test_disabled_progress_keeps_messages_only() -> None:
    console, stream = _console()
    with RichProgress(console, enabled=False) as progress:
        progress.status("working")
        with progress.task("training", 4, transient=False) as task:
            task.advance(4)
        progress.message("done")
    assert stream.getvalue() == "done\n"
