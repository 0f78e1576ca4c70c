"""``aaae studio``: start the browser studio (:mod:`aaae_cli.studio.page`) on this computer.

Gradio comes with the optional extra ``studio``; without it the command says how to install it, in one line,
and nothing else in aaae imports Gradio (``aaae --help`` and ``sample`` stay fast). The server binds to
127.0.0.1 unless ``--host`` says otherwise, and makes a public share link only with ``--share``.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated

import typer

from aaae_cli.cli._options import DeviceOption
from aaae_cli.errors import UserError
from aaae_cli.utils.progress import err

commands = typer.Typer()  # registered on the app by aaae_cli.cli.app

INSTALL = 'pip install "aaae[studio]"'


def _gradio_app() -> object:
    """:mod:`aaae_cli.studio.page`, or one line saying how to install what it needs."""
    try:
        from aaae_cli.studio import page as studio_app
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("gradio", "gradio_client"):
            raise UserError(f"'aaae studio' needs Gradio: {INSTALL}") from None
        raise
    return studio_app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@commands.command(
    epilog="Examples:\n\n"
    '  pip install "aaae\\[studio]"    # once: adds Gradio\n\n'
    "  aaae studio                    # opens http://127.0.0.1:7860 in your browser\n\n"
    "  aaae studio --model user/faces@v1 --port 8000 --no-browser\n\n"
    "  aaae studio --model ./my-bundle --model faces   # offer two models",
)
def studio(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model(s) to offer (repeat for several; the first is shown first): built-in name, bundle folder or "
            "Hugging Face Hub id user/name\\[@revision]. The built-in models are always offered too "
            "\\[default: $AAAE_MODEL, else the built-in model].",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but 127.0.0.1 lets other computers in.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser window.")] = False,
    share: Annotated[
        bool, typer.Option("--share", help="Also make a public gradio.live link (anyone with it can use the studio).")
    ] = False,
    device: DeviceOption = "auto",
) -> None:
    """Edit photos with sliders, sample and interpolate, in your browser (needs the 'studio' extra).

    Opens a local web page: drop a photo, move one slider per attribute (strengths as 'aaae edit --attr NAME=S'),
    download the edited photo at its own size. Runs until Ctrl-C.
    """
    module = _gradio_app()
    from aaae_cli.studio.core import Studio

    if not host.strip():
        raise UserError("--host: give an address, e.g. 127.0.0.1")
    studio_ = Studio(model or [None], device=device)
    try:
        app = module.build_app(studio_)  # type: ignore[attr-defined]
        try:
            url = module.launch(app, host, port, share, not no_browser)  # type: ignore[attr-defined]
        except OSError as exc:
            raise UserError(
                f"cannot listen on {host}:{port} ({str(exc).splitlines()[0][:160]}); try another --port"
            ) from None
        err.print(
            f"aaae studio: {url}  (models: {', '.join(studio_.choices)}; Ctrl-C to stop)",
            highlight=False,
            soft_wrap=True,
        )
        if not _is_loopback(host):
            err.print(
                f"note: listening on {host}: other computers that can reach it can use the studio",
                highlight=False,
                soft_wrap=True,
            )
        if share and getattr(app, "share_url", None):
            err.print(f"public link: {app.share_url}", highlight=False, soft_wrap=True)
        try:
            while app.is_running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            app.close()
    finally:
        studio_.close()
