"""``aaae studio`` refuses crafted API requests with one line in the server's terminal, not a Gradio traceback
each (issue 23): a visitor probing the API (files that were never uploaded, too few inputs) filled it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.studio_browser import free_port

pytest.importorskip("gradio", reason="the studio needs the 'studio' extra (gradio)")


def _call(url: str, endpoint: str, data: list) -> str:
    """Call ``endpoint`` through Gradio's HTTP API and return what its event stream says."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/{endpoint}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{endpoint}/{event}", timeout=60) as response:
        return response.read().decode()


def test_refused_api_calls_are_one_line_each(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "aaae_cli", "studio", "--no-browser", "--port", str(port), "--model", "digits"]
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the studio did not come up"
                time.sleep(0.25)
        probe = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
        assert "error" in _call(url, "on_photo", ["digits", probe])
        assert "error" in _call(url, "on_photo", ["digits"])
        with urllib.request.urlopen(url, timeout=10) as response:  # still serving
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    refused = [line for line in text.splitlines() if line.startswith("aaae studio: refused a request")]
    assert len(refused) == 2, text
    assert "/etc/passwd" in refused[0] and "InvalidPathError" in refused[0]
