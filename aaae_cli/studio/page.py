"""The studio's page: Gradio components laid out in three tabs and wired to :class:`aaae_cli.studio.core.Studio`.

Only this module (and :mod:`aaae_cli.cli.studio`, when it runs) imports Gradio, which the ``studio`` extra
installs; the rest of aaae never does. Every callback here is a thin adapter: it turns the page's values into a
call of :class:`~aaae_cli.studio.core.Studio` and its result (or a :class:`~aaae_cli.errors.UserError`, or any other
failure) into component updates, with one status line per tab, so an error is a message in the page and the
server keeps serving. Each visitor's photo and its face codes live in a ``gr.State`` (dropped after an hour).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local app: no telemetry, no version check

import gradio as gr

from aaae_cli.errors import UserError
from aaae_cli.studio.core import (
    MAX_UPLOAD_BYTES,
    SHOWN_AT_FIRST,
    SLIDER_LIMIT,
    PhotoSession,
    Rendered,
    Studio,
    ordered_attributes,
)
from aaae_cli.utils.terminal import plain

DOWNLOAD_DELAY = 0.2  # seconds between showing an edit and writing its full-size download
STATE_SECONDS = 3600  # a visitor's photo is forgotten an hour after their last action
ALL_FACES = "all faces"
# System fonts only: the default theme would fetch Google's fonts (a local app should not call out).
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = "#status p, #photo-info p, #sample-status p, #morph-status p { margin: 0; }"


class Upload(NamedTuple):
    """An uploaded image as the callbacks get it: where Gradio stored it (its own cache, checked by Gradio to be
    an upload) or its bytes, and the name the browser gave it (used only to name downloads)."""

    source: str | bytes
    name: str | None


def _define_photo_input() -> type[gr.Image]:
    """:class:`PhotoInput`, defined without Gradio's side effect: its component metaclass writes a ``.pyi`` stub
    beside the module of every component class it sees (here: into the installed aaae package)."""
    from gradio import component_meta

    writer = getattr(component_meta, "create_or_modify_pyi", None)
    if writer is not None:
        component_meta.create_or_modify_pyi = lambda *args, **kwargs: None
    try:

        class PhotoInput(gr.Image):
            """``gr.Image`` that hands the upload to aaae unread: Gradio's own preprocessing opens it with PIL, so a
            broken file would fail before any callback, with a generic error. aaae's reader (:func:`read_upload`) then
            applies its byte and pixel limits and turns every failure into a message."""

            is_template = True  # the browser side is gr.Image's

            def preprocess(self, payload: Any) -> Upload | None:  # type: ignore[override]
                if payload is None:
                    return None
                url = getattr(payload, "url", None) or ""
                if url.startswith("data:"):  # pasted images may come inline
                    encoded = url.partition(",")[2]
                    if len(encoded) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
                        return Upload(b"\0" * (MAX_UPLOAD_BYTES + 1), "pasted")  # read_upload refuses it by size
                    try:
                        return Upload(base64.b64decode(encoded, validate=False), "pasted")
                    except (binascii.Error, ValueError):
                        return Upload(b"", "pasted")
                if not payload.path:
                    return None
                return Upload(str(payload.path), payload.orig_name or Path(payload.path).name)

        return PhotoInput
    finally:
        if writer is not None:
            component_meta.create_or_modify_pyi = writer


PhotoInput = _define_photo_input()


def _md(text: str) -> str:
    """Plain text shown in a Markdown component as it is (markup characters escaped)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", text)


def _error(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return f"**error:** {_md(str(exc))}"
    traceback.print_exception(exc, file=sys.stderr)  # for whoever runs the server; the page gets one line
    return f"**error:** something went wrong ({_md(type(exc).__name__)}); the details are in the terminal"


class _OneLineTracebacks:
    """Gradio's ``traceback`` module, as its server modules see it, with ``print_exc`` writing one line.

    Gradio prints a full traceback for every request it refuses before any aaae callback runs (a file path that
    was not uploaded, too few inputs, a malformed payload): a visitor probing the API filled the server's
    terminal with them (issue 23). aaae's callbacks catch their own errors (:func:`_guarded`), so what reaches
    Gradio's handler is a refused request, said in one line (control characters made visible)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def print_exc(limit: int | None = None, file: Any = None, chain: bool = True) -> None:
        exc = sys.exc_info()[1]
        if exc is None:
            return
        message = plain(" ".join(str(exc).split()))[:300]
        print(f"aaae studio: refused a request ({type(exc).__name__}: {message})", file=file or sys.stderr)


def _quiet_refusals() -> None:
    """Give Gradio's request handlers :class:`_OneLineTracebacks` (where they print tracebacks for refusals)."""
    import importlib

    for name in ("gradio.queueing", "gradio.routes"):
        module = importlib.import_module(name)
        if getattr(module, "traceback", None) is traceback:
            module.traceback = _OneLineTracebacks()  # type: ignore[attr-defined]


def _guarded(fallback: Callable[[str], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a callback; on any failure return ``fallback(message)`` instead (the page shows it, the server goes on)."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                return fallback(_error(exc))

        run.__name__ = fn.__name__
        return run

    return wrap


def build_app(studio: Studio) -> gr.Blocks:
    """The studio's page for ``studio``'s models: Edit, Sample and Interpolate tabs."""
    first = studio.model(studio.default)
    names = ordered_attributes(first)
    pool = max(studio.slider_count(), 1)

    with gr.Blocks(title="aaae studio", analytics_enabled=False, delete_cache=(600, STATE_SECONDS)) as app:
        gr.Markdown(
            "## aaae studio\nEdit a photo with sliders, sample new images, morph one face into another. "
            "Everything runs on this computer."
        )
        model_pick = gr.Dropdown(
            studio.choices, value=studio.default, label="Model", interactive=len(studio.choices) > 1, elem_id="model"
        )
        session = gr.State(None, time_to_live=STATE_SECONDS)
        last = gr.State(None, time_to_live=STATE_SECONDS)

        # ------------------------------------------------------------------ Edit
        with gr.Tab("Edit", id="edit"):
            with gr.Row(equal_height=True):
                photo = PhotoInput(
                    label="Photo (drop, upload, paste or take one)",
                    type="filepath",
                    sources=["upload", "webcam", "clipboard"],
                    elem_id="photo",
                    buttons=["fullscreen"],
                )
                edited = gr.Image(
                    label="Edited", format="jpeg", interactive=False, elem_id="edited", buttons=["fullscreen"]
                )
            photo_info = gr.Markdown("Open a photo with a face to start.", elem_id="photo-info")
            status = gr.Markdown("", elem_id="status")
            with gr.Row():
                download = gr.DownloadButton(
                    "Download the edited photo (full size)", interactive=False, elem_id="download", scale=2
                )
                face_pick = gr.Dropdown([ALL_FACES], value=ALL_FACES, label="Faces to edit", elem_id="faces", scale=1)
                reset = gr.Button("All sliders to 0", elem_id="reset", scale=1)
            with gr.Row():
                shown = gr.Dropdown(
                    names,
                    value=names[:SHOWN_AT_FIRST],
                    multiselect=True,
                    label="Sliders shown (type to search all attributes)",
                    elem_id="shown",
                    scale=3,
                )
                keep = gr.Dropdown(
                    names,
                    value=[],
                    multiselect=True,
                    label="Keep unchanged (the edit leaves these attributes alone)",
                    elem_id="keep",
                    scale=2,
                )
            with gr.Row():
                sliders = [
                    gr.Slider(
                        -SLIDER_LIMIT,
                        SLIDER_LIMIT,
                        value=0,
                        step=0.05,
                        label=names[i] if i < len(names) else "",
                        visible=i < min(SHOWN_AT_FIRST, len(names)),
                        min_width=240,
                        elem_classes=["attr-slider"],
                    )
                    for i in range(pool)
                ]
            gr.Markdown(
                "Strengths are in the units of `aaae edit --attr NAME=S` (1 = the model's calibrated strength for "
                "photos); negative removes an attribute."
            )
            with gr.Accordion("Faces found, aligned as the model sees them", open=False):
                faces_view = gr.Image(label="Aligned faces", interactive=False, format="png", elem_id="aligned")

        # ------------------------------------------------------------------ Sample
        with gr.Tab("Sample", id="sample"):
            with gr.Row():
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1, elem_id="seed")
                temperature = gr.Slider(0, 2, value=1, step=0.05, label="Temperature", elem_id="temperature")
                count = gr.Slider(1, 64, value=16, step=1, label="Count", elem_id="count")
            sample_button = gr.Button("Sample", variant="primary", elem_id="sample-button")
            sample_status = gr.Markdown("", elem_id="sample-status")
            grid = gr.Image(label="Samples", format="png", interactive=False, elem_id="grid", buttons=["fullscreen"])
            grid_file = gr.DownloadButton("Download PNG", interactive=False, elem_id="grid-download")

        # ------------------------------------------------------------------ Interpolate
        with gr.Tab("Interpolate", id="interpolate"):
            with gr.Row():
                photo_a = PhotoInput(
                    label="From", type="filepath", sources=["upload", "webcam", "clipboard"], elem_id="from"
                )
                photo_b = PhotoInput(
                    label="To", type="filepath", sources=["upload", "webcam", "clipboard"], elem_id="to"
                )
                with gr.Column():
                    steps = gr.Slider(2, 48, value=12, step=1, label="Steps", elem_id="steps")
                    morph_button = gr.Button("Morph", variant="primary", elem_id="morph-button")
                    morph_status = gr.Markdown("", elem_id="morph-status")
            frames = gr.State(None, time_to_live=STATE_SECONDS)
            position = gr.Slider(0, 11, value=0, step=1, label="Through the morph", elem_id="position")
            frame_view = gr.Image(label="Morph", format="png", interactive=False, elem_id="frame")
            gif_file = gr.DownloadButton("Download GIF", interactive=False, elem_id="gif-download")

        # ------------------------------------------------------------------ callbacks
        def slider_updates(model_name: str, chosen: list[str] | None) -> list[Any]:
            ordered = ordered_attributes(studio.model(model_name))
            visible = set(chosen if chosen is not None else ordered[:SHOWN_AT_FIRST])
            return [
                gr.update(label=ordered[i], visible=ordered[i] in visible, value=0)
                if i < len(ordered)
                else gr.update(visible=False, value=0)
                for i in range(pool)
            ]

        @_guarded(lambda m: (gr.update(), gr.update(), gr.update(), gr.update(), *[gr.update()] * pool, m))
        def on_model(model_name: str) -> tuple[Any, ...]:
            ordered = ordered_attributes(studio.model(model_name))
            return (
                None,
                gr.update(choices=ordered, value=ordered[:SHOWN_AT_FIRST]),
                gr.update(choices=ordered, value=[]),
                gr.update(choices=[ALL_FACES], value=ALL_FACES),
                *slider_updates(model_name, None),
                f"Model **{_md(model_name)}**: {len(ordered)} attributes.",
            )

        # A photo that cannot be opened is taken out of the page (the message says why), ready for the next one.
        @_guarded(lambda m: (None, None, None, gr.update(choices=[ALL_FACES], value=ALL_FACES), None, "", m))
        def on_photo(model_name: str, upload: Upload | None) -> tuple[Any, ...]:
            if upload is None:  # emptied by the page itself after a failure: nothing to do (the x button: on_clear)
                return (gr.skip(),) * 7
            opened = studio.open_photo(model_name, upload.source, upload.name)
            faces = [ALL_FACES, *(str(n) for n in range(1, opened.face_count + 1))] if opened.face_count > 1 else []
            return (
                gr.skip(),
                opened,
                None,
                gr.update(choices=faces or [ALL_FACES], value=ALL_FACES),
                opened.faces,
                _md(opened.message),
                "",
            )

        def on_clear() -> tuple[Any, ...]:
            return None, None, None, None, gr.update(choices=[ALL_FACES], value=ALL_FACES), "Open a photo to start.", ""

        @_guarded(lambda m: (None, gr.update(), m, gr.update(interactive=False)))
        def on_render(current: PhotoSession | None, kept: list[str], face: str, *values: float) -> tuple[Any, ...]:
            if current is None:
                return None, None, gr.update(), gr.update(value=None, interactive=False)
            ordered = ordered_attributes(studio.model(current.model))
            edits = {ordered[i]: float(v) for i, v in enumerate(values) if i < len(ordered) and v}
            faces = None if face in (None, ALL_FACES) else [int(face)]
            result = studio.render(current, edits, kept or [], faces)
            return result, result.shown, _md(result.message), gr.update(interactive=False)

        @_guarded(lambda m: (gr.update(value=None, interactive=False), m))
        def on_download(current: PhotoSession | None, result: Rendered | None) -> tuple[Any, ...]:
            if current is None or result is None:
                return gr.update(value=None, interactive=False), gr.update()
            # Let the browser fetch and show the new image first: on 2 busy cores, writing the full-size file at
            # the same time added about 25 ms to each slider move (BENCHMARKS.md, "Studio").
            time.sleep(DOWNLOAD_DELAY)
            if not studio.is_latest(current, result):  # a newer edit is on its way; its own step offers it
                return gr.skip(), gr.skip()
            path = studio.save_edited(current, result)
            if not studio.is_latest(current, result):  # and again: it may have started while this one was written
                return gr.skip(), gr.skip()
            return gr.update(value=str(path), interactive=True), gr.update()

        def on_shown(model_name: str, chosen: list[str], *values: float) -> list[Any]:
            ordered = ordered_attributes(studio.model(model_name))
            picked = set(chosen or [])
            return [
                gr.update(visible=ordered[i] in picked, value=values[i] if ordered[i] in picked else 0)
                if i < len(ordered)
                else gr.update()
                for i in range(pool)
            ]

        @_guarded(lambda m: (gr.update(), gr.update(interactive=False), m))
        def on_sample(model_name: str, seed_value: float | None, temp: float, n: float) -> tuple[Any, ...]:
            image, path = studio.sample(model_name, int(seed_value or 0), temp, int(n))
            shown_seed = int(seed_value or 0)
            return image, gr.update(value=str(path), interactive=True), f"{int(n)} samples, seed {shown_seed}"

        @_guarded(lambda m: (None, gr.update(), gr.update(), gr.update(interactive=False), m))
        def on_morph(model_name: str, a: Upload | None, b: Upload | None, n: float) -> tuple[Any, ...]:
            if a is None or b is None:
                raise UserError("open two photos first")
            images, path = studio.interpolate(model_name, a.source, b.source, int(n), (a.name, b.name))
            return (
                images,
                images[0],
                gr.update(maximum=len(images) - 1, value=0),
                gr.update(value=str(path), interactive=True),
                f"{len(images)} steps",
            )

        def on_position(images: Any, index: float) -> Any:
            if images is None:
                return gr.update()
            return images[max(0, min(len(images) - 1, int(index)))]

        photo_outputs = [photo, session, last, face_pick, faces_view, photo_info, status]
        render_inputs = [session, keep, face_pick, *sliders]
        render_outputs = [last, edited, status, download]
        download_outputs = [download, status]
        quiet: dict[str, Any] = {"show_progress": "hidden", "queue": True}

        def rerender(event: Any) -> None:
            event.then(on_render, render_inputs, render_outputs, **quiet).then(
                on_download, [session, last], download_outputs, **quiet
            )

        rerender(
            model_pick.change(
                on_model, [model_pick], [session, shown, keep, face_pick, *sliders, status], **quiet
            ).then(on_photo, [model_pick, photo], photo_outputs)
        )
        photo.clear(on_clear, None, [session, last, edited, faces_view, face_pick, photo_info, status], **quiet).then(
            lambda: gr.update(value=None, interactive=False), None, [download], **quiet
        )
        opened = photo.change(on_photo, [model_pick, photo], photo_outputs, trigger_mode="always_last")
        rerender(opened)
        changed = gr.on(
            [s.release for s in sliders] + [keep.change, face_pick.input],
            on_render,
            render_inputs,
            render_outputs,
            trigger_mode="always_last",
            **quiet,
        )
        changed.then(on_download, [session, last], download_outputs, **quiet)
        rerender(shown.input(on_shown, [model_pick, shown, *sliders], sliders, **quiet))
        rerender(reset.click(lambda: [0] * pool, None, sliders, **quiet))
        sample_button.click(on_sample, [model_pick, seed, temperature, count], [grid, grid_file, sample_status])
        morph_button.click(
            on_morph, [model_pick, photo_a, photo_b, steps], [frames, frame_view, position, gif_file, morph_status]
        )
        position.change(on_position, [frames, position], [frame_view], trigger_mode="always_last", **quiet)
    return app


def launch(app: gr.Blocks, host: str, port: int, share: bool, browser: bool) -> str:
    """Start serving ``app`` (without blocking) and return its local URL."""
    _quiet_refusals()
    app.queue(default_concurrency_limit=1)
    app.launch(
        server_name=host,
        server_port=port,
        share=share,
        inbrowser=browser,
        max_file_size=MAX_UPLOAD_BYTES,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        ssr_mode=False,
        theme=THEME,
        css=CSS,
        footer_links=[],
    )
    return str(app.local_url)


__all__ = ["PhotoInput", "Upload", "build_app", "launch"]
