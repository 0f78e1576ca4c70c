"""Typer's (click's) usage errors as the one ``error:`` line every other bad input gets.

Left to typer, ``-n abc``, ``--zoom 0``, a missing ``--attr`` or an unknown option printed a usage line, a
hint and a four-line box; scripts and users reading stderr expect ``error: ...`` once, as the README says.
"""

from __future__ import annotations

import warnings
from typing import Any

import typer

try:  # typer >= 0.20 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer, plain click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

ClickException: Any = click_exceptions.ClickException
NoArgsIsHelpError: Any = getattr(click_exceptions, "NoArgsIsHelpError", ())
Abort: Any = typer.Abort


def quiet_numpy_warnings() -> None:
    """Numpy's floating-point warnings (an overflow from ``--temperature 1e300``) printed an internal source
    line before the real ``error:`` line; the commands check their results and say what went wrong."""
    warnings.filterwarnings(
        "ignore", message=r"(overflow|invalid value|divide by zero) encountered", category=RuntimeWarning
    )


def usage_error_line(exc: Any) -> str:
    """``<what is wrong> (see 'aaae <command> --help')``, on one line."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see '{ctx.command_path} --help')" if ctx is not None else message
