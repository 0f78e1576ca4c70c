"""Driving ``aaae studio`` in a real headless browser (the system's Chromium, through Playwright).

Shared by the end-to-end test (tests/test_studio_browser.py) and the latency bench
(tests/bench/studio_latency.py). Nothing is downloaded: Playwright is pointed at the Chromium that
``apt-get install chromium`` gives (``$AAAE_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on PATH).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Resolves (in the page) with [milliseconds since the last pointerup, new src] once the edited image's <img> shows
# a new file and that file is decoded, i.e. ready to paint.
WATCH_EDITED = """old => {
  window.__aaae_seen = new Promise(resolve => {
    const check = async () => {
      const img = document.querySelector('#edited img');
      if (img && img.src && img.src !== old) {
        try { await img.decode(); } catch (e) {}
        resolve([performance.now() - window.__aaae_release, img.src]);
        return true;
      }
      return false;
    };
    const observer = new MutationObserver(async () => { if (await check()) observer.disconnect(); });
    observer.observe(document.querySelector('#edited'),
                     {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  });
}"""
MARK_RELEASE = "document.addEventListener('pointerup', () => { window.__aaae_release = performance.now(); }, true)"


def chromium_path() -> str | None:
    """The system Chromium, if there is one."""
    chosen = os.environ.get("AAAE_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_studio(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Iterator[str]:
    """``aaae studio --no-browser --port FREE ARGS`` as a subprocess; yields its URL once it answers, and stops it
    (SIGTERM, as Ctrl-C) afterwards. Fails with the server's stderr if it does not come up."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "aaae_cli", "studio", "--no-browser", "--port", str(port), *args]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    log = open(os.devnull, "w")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.PIPE, text=True, env=full_env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"aaae studio exited with {process.returncode}: {process.stderr.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"aaae studio did not answer on {url} within {timeout} s")
            time.sleep(0.25)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        if process.stderr:
            process.stderr.close()


@contextlib.contextmanager
def browser_page(url: str, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A Playwright page of ``url`` in the headless system Chromium (downloads accepted)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no system Chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
            page.set_default_timeout(60_000)
            page.goto(url)
            page.wait_for_selector("#photo input[type=file]", state="attached")
            page.evaluate(MARK_RELEASE)
            yield page
        finally:
            browser.close()


def status(page: Any, elem: str = "#status") -> str:
    return page.locator(elem).inner_text()


def upload_photo(page: Any, path: Path, expect: str = "found") -> str:
    """Put ``path`` into the Edit tab's photo input and wait until the line about the photo contains ``expect``;
    returns that line."""
    page.locator("#photo input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        "want => document.querySelector('#photo-info').innerText.includes(want)", arg=expect, timeout=60_000
    )
    return status(page, "#photo-info")


def edited_src(page: Any) -> str | None:
    return page.evaluate("(document.querySelector('#edited img') || {}).src || null")


def wait_edited(page: Any, timeout: float = 60_000) -> str:
    """Wait until the edited image shows something; returns its URL."""
    page.wait_for_function("(document.querySelector('#edited img') || {}).src", timeout=timeout)
    return edited_src(page) or ""


def move_slider(page: Any, name: str, fraction: float) -> tuple[float, str]:
    """Click attribute ``name``'s slider at ``fraction`` of its track (a press and release, as a person would)
    and wait for the edited image to change; returns (milliseconds from the release to the new image decoded
    in the page, the new image's URL)."""
    track = page.get_by_label(f"range slider for {name}", exact=True)
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    page.evaluate(WATCH_EDITED, edited_src(page) or "")
    track.click(position={"x": fraction * box["width"], "y": box["height"] / 2})
    milliseconds, src = page.evaluate(
        "ms => Promise.race([window.__aaae_seen, new Promise((_, no) => setTimeout(() => no(new Error("
        "'the edited image did not change')), ms))])",
        60_000,
    )
    return float(milliseconds), src


def slider_value(page: Any, name: str) -> float:
    return float(page.get_by_label(f"range slider for {name}", exact=True).input_value())
