"""``aaae studio``: milliseconds from releasing a slider to the new edited photo, measured in a real browser.

    python tests/bench/studio_latency.py [--model faces] [--side 1000] [--moves 30] [--screenshot docs/studio.png]

Starts ``aaae studio --no-browser`` as a subprocess, opens it in the headless system Chromium (Playwright), uploads
the public-domain astronaut portrait enlarged to SIDE x SIDE (a JPEG, 1 megapixel by default) and clicks the Male
slider at alternating places on its track ``--moves`` times. Each latency runs in the page's own clock: from the
``pointerup`` that makes Gradio send the slider's ``release`` event to the moment the new image's file is decoded
and ready to paint (``img.decode()``), so it holds the callback, Gradio's queue, the JPEG sent and its decoding.
The server's own share is timed beside it, in this process: :meth:`aaae_cli.studio.core.Studio.render` (one decoder
call, the change warped back) and the JPEG encoding Gradio then does. Median, 90th percentile, fastest, slowest.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.studio_browser import browser_page, move_slider, running_studio, upload_photo  # noqa: E402

PORTRAIT = ROOT / "tests" / "data" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces")
    parser.add_argument("--side", type=int, default=1000)
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--attribute", default="Male")
    parser.add_argument("--screenshot", type=Path, help="Also save a screenshot of the page after the moves.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "astronaut-1mp.jpg"
        Image.open(PORTRAIT).resize((args.side, args.side), Image.Resampling.BICUBIC).save(photo, quality=92)
        server = _server_side(photo, args.model, args.attribute, args.moves)
        browser = _in_browser(photo, args.model, args.attribute, args.moves, args.screenshot)
    result = {
        "what": f"slider release -> new edited image decoded in Chromium; {args.attribute} slider, model {args.model}",
        "photo": f"{args.side}x{args.side} JPEG",
        "browser_ms": _summary(browser),
        "server_render_ms": _summary(server["render"]),
        "server_jpeg_ms": _summary(server["jpeg"]),
        "moves": args.moves,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result, indent=1))


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "fastest": round(ordered[0], 1),
        "slowest": round(ordered[-1], 1),
    }


def _strengths(moves: int) -> list[float]:
    """Track positions that alternate between the two halves (each click far from the thumb) and never repeat."""
    return [(0.2 if k % 2 else 0.6) + 0.3 * ((k * 7) % moves) / moves for k in range(moves)]


def _server_side(photo: Path, model: str, attribute: str, moves: int) -> dict[str, list[float]]:
    """The server's part of a slider move, timed in this process: the render and the JPEG Gradio makes of it."""
    from aaae_cli.studio.core import SLIDER_LIMIT, Studio

    studio = Studio([model], device="cpu")
    try:
        session = studio.open_photo(model, photo.read_bytes(), photo.name)
        render, jpeg = [], []
        for fraction in [0.5, *_strengths(moves)]:
            strength = round((fraction * 2 - 1) * SLIDER_LIMIT, 2)
            start = time.perf_counter()
            result = studio.render(session, {attribute: strength})
            middle = time.perf_counter()
            result.shown.save(io.BytesIO(), format="JPEG")  # as gr.Image(format="jpeg") does
            render.append((middle - start) * 1000)
            jpeg.append((time.perf_counter() - middle) * 1000)
        return {"render": render[1:], "jpeg": jpeg[1:]}
    finally:
        studio.close()


def _in_browser(photo: Path, model: str, attribute: str, moves: int, screenshot: Path | None) -> list[float]:
    times = []
    with running_studio("--model", model, "--device", "cpu") as url, browser_page(url) as page:
        upload_photo(page, photo)
        move_slider(page, attribute, 0.55)  # warm-up: the first render of a photo
        for fraction in _strengths(moves):
            milliseconds, _ = move_slider(page, attribute, fraction)
            times.append(milliseconds)
        if screenshot is not None:
            move_slider(page, attribute, 0.5 + 1.5 / 6)  # +1.5
            page.wait_for_function("!document.querySelector('#download').disabled")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(screenshot), full_page=True)
    return times


if __name__ == "__main__":
    main()
