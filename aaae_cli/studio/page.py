"""The studio's page: Gradio components laid out in three tabs and wired to :class:`aaae_cli.studio.core.Studio`.

Only this module (and :mod:`aaae_cli.cli.studio`, when it runs) imports Gradio, which the ``studio`` extra
installs; the rest of aaae never does. Every callback here is a thin adapter: it turns the page's values into a
call of :class:`~aaae_cli.studio.core.Studio` and its result (or a :class:`~aaae_cli.errors.UserError`, or any other
failure) into component updates, with one status line per tab, so an error is a message in the page and the
server keeps serving. Each visitor's photo and its face codes live in a ``gr.State`` (dropped after an hour).

One class per tab (:class:`EditTab`, :class:`SampleTab`, :class:`InterpolateTab`) lays out its components as named
attributes and wires their events; its callbacks return ``{component: value}`` (Gradio's dict form), so what a
callback changes is said by name, and a component it leaves out stays as it is.
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
from dataclasses import dataclass
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


def _guarded(fallback: Callable[[Any, str], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a tab's callback; on any failure return ``fallback(tab, message)`` instead (the page shows it, the server
    goes on). The wrapper keeps the callback's name: Gradio names the page's API endpoints after it."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any) -> Any:
            try:
                return fn(self, *args)
            except Exception as exc:
                return fallback(self, _error(exc))

        run.__name__ = fn.__name__
        return run

    return wrap


QUIET: dict[str, Any] = {"show_progress": "hidden", "queue": True}  # slider edits: no spinner over the page
FILE_SOURCES = ["upload", "webcam", "clipboard"]


@dataclass(frozen=True)
class Shared:
    """What the three tabs share: the model picker and the visitor's photo (its codes) and latest edit."""

    studio: Studio
    model_pick: gr.Dropdown
    session: gr.State  # the visitor's PhotoSession (their photo and its face codes)
    last: gr.State  # the latest Rendered edit of it


class EditTab:
    """The Edit tab: a photo, one slider per attribute (a pool of ``pool`` sliders relabelled per model), the
    edited photo and its full-size download. Every callback returns ``{component: value}``; a component it leaves
    out stays as it is."""

    def __init__(self, shared: Shared, names: list[str], pool: int) -> None:
        self.shared, self.studio = shared, shared.studio
        with gr.Row(equal_height=True):
            self.photo = PhotoInput(
                label="Photo (drop, upload, paste or take one)",
                type="filepath",
                sources=FILE_SOURCES,
                elem_id="photo",
                buttons=["fullscreen"],
            )
            self.edited = gr.Image(
                label="Edited", format="jpeg", interactive=False, elem_id="edited", buttons=["fullscreen"]
            )
        self.photo_info = gr.Markdown("Open a photo with a face to start.", elem_id="photo-info")
        self.status = gr.Markdown("", elem_id="status")
        with gr.Row():
            self.download = gr.DownloadButton(
                "Download the edited photo (full size)", interactive=False, elem_id="download", scale=2
            )
            self.face_pick = gr.Dropdown([ALL_FACES], value=ALL_FACES, label="Faces to edit", elem_id="faces", scale=1)
            self.reset = gr.Button("All sliders to 0", elem_id="reset", scale=1)
        with gr.Row():
            self.shown = gr.Dropdown(
                names,
                value=names[:SHOWN_AT_FIRST],
                multiselect=True,
                label="Sliders shown (type to search all attributes)",
                elem_id="shown",
                scale=3,
            )
            self.keep = gr.Dropdown(
                names,
                value=[],
                multiselect=True,
                label="Keep unchanged (the edit leaves these attributes alone)",
                elem_id="keep",
                scale=2,
            )
        with gr.Row():
            self.sliders = [self._slider(names, i) for i in range(pool)]
        gr.Markdown(
            "Strengths are in the units of `aaae edit --attr NAME=S` (1 = the model's calibrated strength for "
            "photos); negative removes an attribute."
        )
        with gr.Accordion("Faces found, aligned as the model sees them", open=False):
            self.faces_view = gr.Image(label="Aligned faces", interactive=False, format="png", elem_id="aligned")

    @staticmethod
    def _slider(names: list[str], i: int) -> gr.Slider:
        """Slider ``i`` of the pool: attribute ``names[i]`` (shown among the first few), or a hidden spare."""
        return gr.Slider(
            -SLIDER_LIMIT,
            SLIDER_LIMIT,
            value=0,
            step=0.05,
            label=names[i] if i < len(names) else "",
            visible=i < min(SHOWN_AT_FIRST, len(names)),
            min_width=240,
            elem_classes=["attr-slider"],
        )

    def wire(self) -> None:
        """Connect the events: a new model or photo, a slider released, attributes kept, a face picked, sliders
        shown or reset each re-render the edit; a finished render then offers its full-size download."""
        s = self.shared
        photo_outputs = [self.photo, s.session, s.last, self.face_pick, self.faces_view, self.photo_info, self.status]
        render_inputs = [s.session, self.keep, self.face_pick, *self.sliders]
        render_outputs = [s.last, self.edited, self.status, self.download]
        download_outputs = [self.download, self.status]

        def rerender(event: Any) -> None:
            event.then(self.on_render, render_inputs, render_outputs, **QUIET).then(
                self.on_download, [s.session, s.last], download_outputs, **QUIET
            )

        model_outputs = [s.session, self.shown, self.keep, self.face_pick, *self.sliders, self.status]
        rerender(
            s.model_pick.change(self.on_model, [s.model_pick], model_outputs, **QUIET).then(
                self.on_photo, [s.model_pick, self.photo], photo_outputs
            )
        )
        cleared = [s.session, s.last, self.edited, self.faces_view, self.face_pick, self.photo_info, self.status]
        self.photo.clear(self.on_clear, None, cleared, **QUIET).then(
            lambda: {self.download: gr.update(value=None, interactive=False)}, None, [self.download], **QUIET
        )
        rerender(
            self.photo.change(self.on_photo, [s.model_pick, self.photo], photo_outputs, trigger_mode="always_last")
        )
        changed = gr.on(
            [slider.release for slider in self.sliders] + [self.keep.change, self.face_pick.input],
            self.on_render,
            render_inputs,
            render_outputs,
            trigger_mode="always_last",
            **QUIET,
        )
        changed.then(self.on_download, [s.session, s.last], download_outputs, **QUIET)
        rerender(self.shown.input(self.on_shown, [s.model_pick, self.shown, *self.sliders], self.sliders, **QUIET))
        rerender(self.reset.click(lambda: dict.fromkeys(self.sliders, 0), None, self.sliders, **QUIET))

    def _attributes(self, model_name: str) -> list[str]:
        return ordered_attributes(self.studio.model(model_name))

    def _slider_updates(self, model_name: str, chosen: list[str] | None) -> dict[gr.Slider, Any]:
        """The pool relabelled for ``model_name``'s attributes, ``chosen`` (else the first few) shown, all at 0."""
        ordered = self._attributes(model_name)
        visible = set(chosen if chosen is not None else ordered[:SHOWN_AT_FIRST])
        return {
            slider: gr.update(label=ordered[i], visible=ordered[i] in visible, value=0)
            if i < len(ordered)
            else gr.update(visible=False, value=0)
            for i, slider in enumerate(self.sliders)
        }

    def _no_faces_to_pick(self) -> dict[gr.Dropdown, Any]:
        return {self.face_pick: gr.update(choices=[ALL_FACES], value=ALL_FACES)}

    @_guarded(lambda tab, message: {tab.status: message})
    def on_model(self, model_name: str) -> dict[Any, Any]:
        """Another model: the photo is opened again for it (on_photo, next), the sliders are its attributes."""
        ordered = self._attributes(model_name)
        return {
            self.shared.session: None,
            self.shown: gr.update(choices=ordered, value=ordered[:SHOWN_AT_FIRST]),
            self.keep: gr.update(choices=ordered, value=[]),
            **self._no_faces_to_pick(),
            **self._slider_updates(model_name, None),
            self.status: f"Model **{_md(model_name)}**: {len(ordered)} attributes.",
        }

    # A photo that cannot be opened is taken out of the page (the message says why), ready for the next one.
    @_guarded(
        lambda tab, message: {
            tab.photo: None,
            tab.shared.session: None,
            tab.shared.last: None,
            **tab._no_faces_to_pick(),
            tab.faces_view: None,
            tab.photo_info: "",
            tab.status: message,
        }
    )
    def on_photo(self, model_name: str, upload: Upload | None) -> Any:
        """A photo dropped in (or the model changed): find and encode its faces, offer them in the face picker."""
        if upload is None:  # emptied by the page itself after a failure: nothing to do (the x button: on_clear)
            return gr.skip()
        opened = self.studio.open_photo(model_name, upload.source, upload.name)
        faces = [ALL_FACES, *(str(n) for n in range(1, opened.face_count + 1))] if opened.face_count > 1 else []
        return {
            self.shared.session: opened,
            self.shared.last: None,
            self.face_pick: gr.update(choices=faces or [ALL_FACES], value=ALL_FACES),
            self.faces_view: opened.faces,
            self.photo_info: _md(opened.message),
            self.status: "",
        }

    def on_clear(self) -> dict[Any, Any]:
        """The photo's x button: forget the photo and its edit."""
        return {
            self.shared.session: None,
            self.shared.last: None,
            self.edited: None,
            self.faces_view: None,
            **self._no_faces_to_pick(),
            self.photo_info: "Open a photo to start.",
            self.status: "",
        }

    @_guarded(
        lambda tab, message: {tab.shared.last: None, tab.status: message, tab.download: gr.update(interactive=False)}
    )
    def on_render(self, current: PhotoSession | None, kept: list[str], face: str, *values: float) -> dict[Any, Any]:
        """The edit the sliders say, on the picked faces (the full-size file comes after, from on_download)."""
        if current is None:
            return {self.shared.last: None, self.edited: None, self.download: gr.update(value=None, interactive=False)}
        ordered = self._attributes(current.model)
        edits = {ordered[i]: float(v) for i, v in enumerate(values) if i < len(ordered) and v}
        faces = None if face in (None, ALL_FACES) else [int(face)]
        result = self.studio.render(current, edits, kept or [], faces)
        return {
            self.shared.last: result,
            self.edited: result.shown,
            self.status: _md(result.message),
            self.download: gr.update(interactive=False),
        }

    @_guarded(lambda tab, message: {tab.download: gr.update(value=None, interactive=False), tab.status: message})
    def on_download(self, current: PhotoSession | None, result: Rendered | None) -> Any:
        """Write the latest edit at the photo's own size and offer it (unless a newer edit overtook it)."""
        if current is None or result is None:
            return {self.download: gr.update(value=None, interactive=False)}
        # Let the browser fetch and show the new image first: on 2 busy cores, writing the full-size file at
        # the same time added about 25 ms to each slider move (BENCHMARKS.md, "Studio").
        time.sleep(DOWNLOAD_DELAY)
        if not self.studio.is_latest(current, result):  # a newer edit is on its way; its own step offers it
            return gr.skip()
        path = self.studio.save_edited(current, result)
        if not self.studio.is_latest(current, result):  # and again: it may have started while this one was written
            return gr.skip()
        return {self.download: gr.update(value=str(path), interactive=True)}

    def on_shown(self, model_name: str, chosen: list[str], *values: float) -> dict[gr.Slider, Any]:
        """Show the chosen attributes' sliders (keeping their values); hidden ones go back to 0."""
        ordered = self._attributes(model_name)
        picked = set(chosen or [])
        return {
            slider: gr.update(visible=ordered[i] in picked, value=values[i] if ordered[i] in picked else 0)
            if i < len(ordered)
            else gr.skip()  # a spare slider stays hidden
            for i, slider in enumerate(self.sliders)
        }


class SampleTab:
    """The Sample tab: a grid of new images from a seed, a temperature and a count, and its PNG download."""

    def __init__(self, shared: Shared) -> None:
        self.shared, self.studio = shared, shared.studio
        with gr.Row():
            self.seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1, elem_id="seed")
            self.temperature = gr.Slider(0, 2, value=1, step=0.05, label="Temperature", elem_id="temperature")
            self.count = gr.Slider(1, 64, value=16, step=1, label="Count", elem_id="count")
        self.button = gr.Button("Sample", variant="primary", elem_id="sample-button")
        self.status = gr.Markdown("", elem_id="sample-status")
        self.grid = gr.Image(label="Samples", format="png", interactive=False, elem_id="grid", buttons=["fullscreen"])
        self.grid_file = gr.DownloadButton("Download PNG", interactive=False, elem_id="grid-download")

    def wire(self) -> None:
        inputs = [self.shared.model_pick, self.seed, self.temperature, self.count]
        self.button.click(self.on_sample, inputs, [self.grid, self.grid_file, self.status])

    @_guarded(lambda tab, message: {tab.grid_file: gr.update(interactive=False), tab.status: message})
    def on_sample(self, model_name: str, seed_value: float | None, temp: float, n: float) -> dict[Any, Any]:
        seed = int(seed_value or 0)
        image, path = self.studio.sample(model_name, seed, temp, int(n))
        return {
            self.grid: image,
            self.grid_file: gr.update(value=str(path), interactive=True),
            self.status: f"{int(n)} samples, seed {seed}",
        }


class InterpolateTab:
    """The Interpolate tab: two photos morphed in a number of steps, browsed with a slider, and its GIF download."""

    def __init__(self, shared: Shared) -> None:
        self.shared, self.studio = shared, shared.studio
        with gr.Row():
            self.photo_a = PhotoInput(label="From", type="filepath", sources=FILE_SOURCES, elem_id="from")
            self.photo_b = PhotoInput(label="To", type="filepath", sources=FILE_SOURCES, elem_id="to")
            with gr.Column():
                self.steps = gr.Slider(2, 48, value=12, step=1, label="Steps", elem_id="steps")
                self.button = gr.Button("Morph", variant="primary", elem_id="morph-button")
                self.status = gr.Markdown("", elem_id="morph-status")
        self.frames = gr.State(None, time_to_live=STATE_SECONDS)  # the morph's images, browsed by position
        self.position = gr.Slider(0, 11, value=0, step=1, label="Through the morph", elem_id="position")
        self.frame_view = gr.Image(label="Morph", format="png", interactive=False, elem_id="frame")
        self.gif_file = gr.DownloadButton("Download GIF", interactive=False, elem_id="gif-download")

    def wire(self) -> None:
        inputs = [self.shared.model_pick, self.photo_a, self.photo_b, self.steps]
        outputs = [self.frames, self.frame_view, self.position, self.gif_file, self.status]
        self.button.click(self.on_morph, inputs, outputs)
        self.position.change(
            self.on_position, [self.frames, self.position], [self.frame_view], trigger_mode="always_last", **QUIET
        )

    @_guarded(lambda tab, message: {tab.frames: None, tab.gif_file: gr.update(interactive=False), tab.status: message})
    def on_morph(self, model_name: str, a: Upload | None, b: Upload | None, n: float) -> dict[Any, Any]:
        if a is None or b is None:
            raise UserError("open two photos first")
        images, path = self.studio.interpolate(model_name, a.source, b.source, int(n), (a.name, b.name))
        return {
            self.frames: images,
            self.frame_view: images[0],
            self.position: gr.update(maximum=len(images) - 1, value=0),
            self.gif_file: gr.update(value=str(path), interactive=True),
            self.status: f"{len(images)} steps",
        }

    def on_position(self, images: Any, index: float) -> Any:
        if images is None:
            return gr.skip()
        return {self.frame_view: images[max(0, min(len(images) - 1, int(index)))]}


def build_app(studio: Studio) -> gr.Blocks:
    """The studio's page for ``studio``'s models: the shared model picker above the Edit, Sample and Interpolate
    tabs, each tab laid out and wired by its own class."""
    names = ordered_attributes(studio.model(studio.default))
    with gr.Blocks(title="aaae studio", analytics_enabled=False, delete_cache=(600, STATE_SECONDS)) as app:
        gr.Markdown(
            "## aaae studio\nEdit a photo with sliders, sample new images, morph one face into another. "
            "Everything runs on this computer."
        )
        model_pick = gr.Dropdown(
            studio.choices, value=studio.default, label="Model", interactive=len(studio.choices) > 1, elem_id="model"
        )
        shared = Shared(
            studio,
            model_pick,
            session=gr.State(None, time_to_live=STATE_SECONDS),
            last=gr.State(None, time_to_live=STATE_SECONDS),
        )
        with gr.Tab("Edit", id="edit"):
            edit = EditTab(shared, names, pool=max(studio.slider_count(), 1))
        with gr.Tab("Sample", id="sample"):
            sample = SampleTab(shared)
        with gr.Tab("Interpolate", id="interpolate"):
            morph = InterpolateTab(shared)
        for tab in (edit, sample, morph):
            tab.wire()
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
