"""How library code reports what it is doing, and the one place that owns the terminal consoles.

Library functions that take long enough to report on accept ``progress: Progress | None = None`` and call it
for three things only:

* ``progress.message(text)``: a line for the user ("skipped 3 unreadable files"), plain text: the CLI escapes
  control characters and rich markup in it (names from bundles and datasets are hostile input);
* ``progress.status(text)``: what the work is doing now ("reading images"), a transient line the next replaces;
* ``with progress.task("encoding", total) as task: ... task.advance(n)``: a counted piece of work (a bar).

``None`` means :data:`SILENT` (see :func:`or_silent`): the Python API prints nothing unless asked to. The command
line passes a :class:`RichProgress` on :data:`err`. One convention instead of a ``say`` callback here, a
``console`` there and a ``progress(total, done)`` factory elsewhere, so a library function can be called, tested
and reused the same way everywhere.

The consoles: :data:`err` (stderr) takes messages, progress and ``error:`` lines; :data:`out` (stdout) takes
results (tables, JSON), so ``aaae info --json > info.json`` holds the JSON alone. Both are made with
``emoji=False`` (``:b:`` in a file name stays as written); they find ``sys.stderr``/``sys.stdout`` when they
print, so captured streams in tests see them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console

from aaae_cli.utils.terminal import shown

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from types import TracebackType

    from rich.status import Status

err = Console(stderr=True, emoji=False)  # messages, progress bars, error lines
out = Console(highlight=False, emoji=False)  # results


class Task(Protocol):
    """One counted piece of work (a progress bar)."""

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done."""

    def update(self, done: int | None = None, description: str | None = None, info: str | None = None) -> None:
        """Set how many units are done, the bar's description, or its free text (losses, rates)."""


class Progress(Protocol):
    """What library functions report to; see the module docstring."""

    def message(self, text: str) -> None:
        """A line for the user (plain text, never markup)."""

    def status(self, text: str) -> None:
        """What the work is doing now; replaced by the next status."""

    def task(
        self, description: str, total: int, *, done: int = 0, minimum: int = 2, transient: bool = True
    ) -> AbstractContextManager[Task]:
        """A counted piece of work of ``total`` units, ``done`` of them already done. Shown only from ``minimum``
        units up; a ``transient`` bar disappears when the work ends (and needs a terminal), others stay."""


class _SilentTask:
    def advance(self, n: int = 1) -> None:
        pass

    def update(self, done: int | None = None, description: str | None = None, info: str | None = None) -> None:
        pass


class Silent:
    """Reports nothing: the default of every library function."""

    def message(self, text: str) -> None:
        pass

    def status(self, text: str) -> None:
        pass

    @contextlib.contextmanager
    def task(
        self, description: str, total: int, *, done: int = 0, minimum: int = 2, transient: bool = True
    ) -> Iterator[Task]:
        yield _SilentTask()


SILENT = Silent()


def or_silent(progress: Progress | None) -> Progress:
    """``progress``, or :data:`SILENT` for ``None`` (library functions start with this)."""
    return SILENT if progress is None else progress


class _RichTask:
    def __init__(self, bar: Any, task_id: Any) -> None:
        self.bar, self.task_id = bar, task_id

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.task_id, n)

    def update(self, done: int | None = None, description: str | None = None, info: str | None = None) -> None:
        changes: dict[str, Any] = {}
        if done is not None:
            changes["completed"] = done
        if description is not None:
            changes["description"] = shown(description)
        if info is not None:
            changes["info"] = shown(info)
        self.bar.update(self.task_id, **changes)


class RichProgress:
    """:class:`Progress` on a rich console (by default :data:`err`): messages as lines, the status as a spinner,
    tasks as bars. ``enabled=False`` (``--no-progress``) keeps the messages and drops the spinner and bars.
    Use it in a ``with`` block, which ends a status still shown."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.console = console or err
        self.enabled = enabled
        self._status: Status | None = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._end_status()

    def message(self, text: str) -> None:
        self.console.print(shown(text), highlight=False, soft_wrap=True)

    def status(self, text: str) -> None:
        if not self.enabled:
            return
        if self._status is None:
            self._status = self.console.status(shown(text))
            self._status.start()
        else:
            self._status.update(shown(text))

    def _end_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    @contextlib.contextmanager
    def task(
        self, description: str, total: int, *, done: int = 0, minimum: int = 2, transient: bool = True
    ) -> Iterator[Task]:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bars

        self._end_status()  # rich shows one live display at a time
        hidden = not self.enabled or total < minimum or (transient and not self.console.is_terminal)
        bar = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=transient,
            disable=hidden,
        )
        with bar:
            yield _RichTask(bar, bar.add_task(shown(description), total=total, completed=done, info=""))
