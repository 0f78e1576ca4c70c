"""The ``aaae`` typer app (every command group registered in the order ``aaae --help`` lists them) and
:func:`main`, the console entry point that turns every error into one ``error:`` line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from aaae_cli import __version__
from aaae_cli.cli import attributes, data, images, model, photos, studio, train
from aaae_cli.cli import eval as eval_group
from aaae_cli.cli._usage import Abort, ClickException, NoArgsIsHelpError, quiet_numpy_warnings, usage_error_line
from aaae_cli.errors import UserError
from aaae_cli.utils.interrupts import exit_now, treat_sigterm_like_ctrl_c
from aaae_cli.utils.progress import err
from aaae_cli.utils.terminal import shown

app = typer.Typer(
    name="aaae",
    help="Adversarially Approximated Autoencoders: sample, reconstruct, interpolate and edit images, "
    "and train your own models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for group in (train, images, photos, studio, model, eval_group):
    app.registered_commands += group.commands.registered_commands
app.add_typer(attributes.app, name="attributes")
app.add_typer(eval_group.evaluators, name="evaluator")
app.add_typer(data.app, name="data")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aaae {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Adversarially Approximated Autoencoders (Xu, Keshmiri & Wang, arXiv 1902.05581)."""


def main() -> None:
    """Console entry point: user errors, typer's usage errors included, become one line on stderr and exit 2."""
    quiet_numpy_warnings()
    treat_sigterm_like_ctrl_c()  # so every command cleans up after SIGTERM as after Ctrl-C
    try:
        code = app(standalone_mode=False)
    except UserError as exc:
        err.print(f"[bold red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        if isinstance(exc, NoArgsIsHelpError):
            exc.show()  # a bare 'aaae' or 'aaae attributes': the help, as before
            sys.exit(exc.exit_code)
        err.print(f"[bold red]error:[/] {shown(usage_error_line(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Abort:  # Ctrl-C or SIGTERM outside a command's own handling
        exit_now(130)  # at once if onnxruntime still runs a hostile graph's operator (aaae_cli.utils.interrupts)
    sys.exit(code if isinstance(code, int) else 0)  # as typer's standalone mode did: always a SystemExit
