"""``aaae studio`` end to end, in a real headless browser (Debian's Chromium driven by Playwright).

Starts the real command on a free port, uploads the astronaut portrait, moves the Male slider, waits for the
edited photo to change, downloads it (full size, the edit 'aaae edit' makes), then uploads a text file named
.jpg (a message in the page) and a good photo after it (still served). Saves a screenshot: to
``$AAAE_STUDIO_SCREENSHOT`` when set (``docs/make_pictures.sh`` makes ``docs/studio.md``'s ``docs/studio.png`` so),
else into the test's temporary folder. Skips, saying why, without Playwright, Gradio or a system Chromium;
``.ci/run`` installs Chromium so CI runs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ASTRONAUT, DATA
from tests.studio_browser import (
    browser_page,
    chromium_path,
    move_slider,
    running_studio,
    slider_value,
    status,
    upload_photo,
    wait_edited,
)

pytest.importorskip("gradio", reason="the studio needs the 'studio' extra (gradio)")
pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright (the 'test' extra)")
if chromium_path() is None:
    pytest.skip("no system Chromium: apt-get install chromium (or set AAAE_CHROMIUM)", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.mark.slow
def test_edit_in_the_browser(tmp_path: Path) -> None:
    import aaae_cli

    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is a text file, not a photo\n")
    shot = Path(os.environ.get("AAAE_STUDIO_SCREENSHOT") or tmp_path / "studio.png")
    with running_studio("--model", "faces", "--device", "cpu") as url, browser_page(url) as page:
        # A photo: its face found, shown unedited until a slider moves.
        assert "512x512: 1 face found and aligned" in upload_photo(page, ASTRONAUT)
        before = wait_edited(page)
        _, after = move_slider(page, "Male", 0.85)
        assert after != before
        male = slider_value(page, "Male")
        assert male > 1.0 and f"Male +{male:g}" in status(page)

        # The download: the whole photo at its own size, with the edit 'aaae edit --attr Male=S' makes.
        page.wait_for_function("!document.querySelector('#download').disabled")
        with page.expect_download() as download:
            page.locator("#download").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "astronaut-edited.jpg"
        with Image.open(saved) as img:
            assert img.size == Image.open(ASTRONAUT).size
            got = np.asarray(img.convert("RGB"), dtype=np.float32)
        expected = np.asarray(aaae_cli.load("faces", device="cpu").edit_photo(ASTRONAUT, {"Male": male}), np.float32)
        original = np.asarray(Image.open(ASTRONAUT).convert("RGB"), dtype=np.float32)
        assert np.abs(got - expected).mean() < 1.5  # the same edit, give or take JPEG
        assert np.abs(got - original).mean() > 3 * np.abs(got - expected).mean()

        # A text file named .jpg: a message in the page, the photo input emptied for the next one.
        page.locator("#photo input[type=file]").set_input_files(str(bad))
        page.wait_for_function("document.querySelector('#status').innerText.includes('error')")
        assert "holiday: not an image file" in status(page)
        page.wait_for_function("!document.querySelector('#photo img')")

        # The server still serves: the next photo opens and edits.
        assert "512x600: 1 face found and aligned" in upload_photo(page, DATA / "grace_hopper.jpg")
        before = wait_edited(page)
        _, after = move_slider(page, "Smiling", 0.8)
        assert after != before and "Smiling +" in status(page)
        page.wait_for_function("!document.querySelector('#download').disabled")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
