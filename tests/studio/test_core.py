"""``aaae studio`` without a browser: its callbacks as plain functions (edit, sample, interpolate, errors).

The browser end to end is tests/test_studio_browser.py.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.errors import UserError
from tests.conftest import ASTRONAUT, DATA

pytest.importorskip("gradio", reason="the studio needs the 'studio' extra (gradio)")

from aaae_cli.studio import core as studio_module
from aaae_cli.studio.core import Studio, ordered_attributes, read_upload, safe_stem

HOPPER = DATA / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def studio() -> Studio:
    s = Studio(["faces"], device="cpu")
    yield s
    s.close()


def _png(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def test_slider_edit_is_aaae_edit_pixel_for_pixel(studio: Studio) -> None:
    """One encoding per photo, then one decoder call per move, gives exactly what 'aaae edit' gives."""
    model = studio.model("faces")
    session = studio.open_photo("faces", str(ASTRONAUT), "astronaut.jpg")
    assert session.face_count == 1 and "512x512: 1 face found" in session.message
    assert session.faces is not None and session.faces.shape == (128, 128, 3)
    for edits, keep in (({"Male": 1.5}, []), ({"smiling": -1.0, "Young": 2.0}, ["Male"])):
        rendered = studio.render(session, edits, keep)
        expected = model.edit_photo(ASTRONAUT, edits, keep=keep)
        assert np.array_equal(np.asarray(rendered.full), np.asarray(expected)), edits
        assert rendered.shown.size == (512, 512)
    assert "Smiling -1, Young +2, keeping Male" in rendered.message
    # The photo itself is kept unchanged for the next move.
    assert np.array_equal(session.photo.pixels, np.asarray(Image.open(ASTRONAUT).convert("RGB")))


def test_zero_sliders_give_the_photo_back_bit_for_bit(studio: Studio) -> None:
    session = studio.open_photo(None, str(ASTRONAUT))
    rendered = studio.render(session, {"Male": 0.0, "Smiling": 0.0})
    assert np.array_equal(np.asarray(rendered.full), session.photo.pixels)
    assert rendered.message.endswith("no change")


def test_keep_of_an_edited_attribute_is_dropped_and_said(studio: Studio) -> None:
    session = studio.open_photo(None, str(ASTRONAUT))
    rendered = studio.render(session, {"Male": 1.0}, keep=["male", "Young"])
    assert "keeping Young" in rendered.message and "Male is being edited, so not kept" in rendered.message
    expected = studio.model(None).edit_photo(ASTRONAUT, {"Male": 1.0}, keep=["Young"])
    assert np.array_equal(np.asarray(rendered.full), np.asarray(expected))


def test_an_attribute_kept_twice_is_named_once(studio: Studio) -> None:
    """Each name is said once: it was "keeping Young, Young" and "Male, Male is being edited" (issue 23)."""
    session = studio.open_photo(None, str(ASTRONAUT))
    rendered = studio.render(session, {"Male": 1.0}, keep=["young", "Young", "male", "Male"])
    assert "keeping Young;" in rendered.message and "; Male is being edited, so not kept" in rendered.message


def test_one_face_of_two(studio: Studio) -> None:
    canvas = Image.new("RGB", (1100, 620), (200, 200, 200))
    canvas.paste(Image.open(ASTRONAUT), (10, 50))
    canvas.paste(Image.open(HOPPER).convert("RGB"), (560, 10))
    session = studio.open_photo(None, _png(canvas), "two.png")
    assert session.face_count == 2 and "2 faces found" in session.message
    both = np.asarray(studio.render(session, {"Blond_Hair": 2.0}).full).astype(int)
    right = np.asarray(studio.render(session, {"Blond_Hair": 2.0}, faces=[2]).full).astype(int)
    original = session.photo.pixels.astype(int)
    assert np.array_equal(right[:, :540], original[:, :540])  # the left face untouched
    assert np.abs(right[:, 560:] - original[:, 560:]).max() > 20
    assert np.array_equal(both[:, 560:], right[:, 560:])
    with pytest.raises(UserError, match="face 3: only 2 found"):
        studio.render(session, {"Male": 1.0}, faces=[3])


def test_photo_without_a_face_is_shown_unchanged(studio: Studio) -> None:
    session = studio.open_photo(None, _png(Image.new("RGB", (300, 200), (90, 120, 150))), "sky.png")
    assert session.encoded is None and "no face found" in session.message
    rendered = studio.render(session, {"Male": 2.0})
    assert np.array_equal(np.asarray(rendered.full), session.photo.pixels)
    assert "no face to edit" in rendered.message


def test_bad_uploads_are_one_line_messages(studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "holiday.jpg"
    text.write_text("not an image at all\n")
    with pytest.raises(UserError, match="holiday: not an image file"):
        studio.open_photo(None, str(text), "holiday.jpg")
    with pytest.raises(UserError, match="empty"):
        studio.open_photo(None, b"", "x.jpg")
    # A decompression bomb: 144 megapixels in a few kB, refused from its header, before decoding.
    bomb = _png(Image.new("1", (12_000, 12_000)))
    assert len(bomb) < 100_000
    with pytest.raises(UserError, match="bomb"):
        studio.open_photo(None, bomb, "bomb.png")
    # Under aaae's own limit but over the studio's (each visitor's photo stays in memory).
    big = _png(Image.new("1", (8_000, 8_000)))
    with pytest.raises(UserError, match="8000x8000, over the studio's 50 megapixel limit"):
        read_upload(big, "big.png")
    monkeypatch.setattr(studio_module, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(UserError, match="upload limit"):
        studio.open_photo(None, str(ASTRONAUT))
    monkeypatch.undo()
    # The studio goes on working after each.
    assert studio.open_photo(None, str(ASTRONAUT)).face_count == 1


def test_strengths_and_models_are_checked(studio: Studio) -> None:
    session = studio.open_photo(None, str(ASTRONAUT))
    with pytest.raises(UserError, match="strengths run from -3 to 3"):
        studio.render(session, {"Male": 3.5})
    with pytest.raises(UserError, match="unknown attribute 'Mael'"):
        studio.render(session, {"Mael": 1.0})
    with pytest.raises(UserError, match="not one of this studio's models"):
        studio.model("/etc")  # the page may only pick models the command line offered
    assert "digits" in studio.choices and studio.choices[0] == "faces"


def test_downloads_are_full_size_under_the_studios_folder(studio: Studio) -> None:
    session = studio.open_photo(None, ASTRONAUT.read_bytes(), "../../etc/pass wd.jpg")
    assert session.stem == "pass_wd"
    rendered = studio.render(session, {"Eyeglasses": 1.0})
    path = studio.save_edited(session, rendered)
    assert studio.is_latest(session, rendered)
    newer = studio.render(session, {"Eyeglasses": 2.0})
    assert not studio.is_latest(session, rendered) and studio.is_latest(session, newer)
    assert path.parent.parent == studio.folder and path.name == "pass_wd-edited.jpg"
    with Image.open(path) as img:
        assert img.size == (512, 512) and img.format == "JPEG"


def test_safe_stem() -> None:
    assert safe_stem("..") == "photo" and safe_stem(None) == "photo"
    assert safe_stem("C:\\x\\..\\évil<script>.png") == "C_x_.._vil_script"
    assert len(safe_stem("a" * 500 + ".jpg")) == 60


def test_ordered_attributes(studio: Studio) -> None:
    names = ordered_attributes(studio.model("faces"))
    assert names[:4] == ["Smiling", "Male", "Young", "Eyeglasses"]
    assert sorted(names) == sorted(studio.model("faces").attributes) and len(names) == 40


def test_sample(studio: Studio) -> None:
    grid, path = studio.sample("faces", 3, 0.8, 4)
    again, _ = studio.sample("faces", 3, 0.8, 4)
    assert np.array_equal(grid, again)
    assert grid.shape == (2 * 128 + 3 * 2, 2 * 128 + 3 * 2, 3)
    with Image.open(path) as img:
        assert img.format == "PNG" and np.array_equal(np.asarray(img), grid)
    assert studio.sample("digits", 0, 1.0, 1)[0].shape == (132, 132, 1)  # one 128-px image, a 2-px border
    with pytest.raises(UserError, match="count"):
        studio.sample("faces", 0, 1.0, 0)
    with pytest.raises(UserError, match="temperature"):
        studio.sample("faces", 0, -1.0, 4)


def test_interpolate(studio: Studio, tmp_path: Path) -> None:
    frames, path = studio.interpolate("faces", str(ASTRONAUT), HOPPER.read_bytes(), 5)
    assert frames.shape == (5, 256, 256, 3)
    model = studio.model("faces")
    ends = model.prepare_batch([ASTRONAUT, HOPPER])
    assert np.array_equal(frames[:, ::4, ::4], model.interpolate(ends[0], ends[1], 5, refine=6))  # as the CLI
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 8  # there and back
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(UserError, match="b: "):
        studio.interpolate("faces", str(ASTRONAUT), str(broken), 5, ("a.jpg", "b.jpg"))
    with pytest.raises(UserError, match="steps"):
        studio.interpolate("faces", str(ASTRONAUT), str(ASTRONAUT), 1)


def test_page_builds_and_its_upload_reads_nothing(studio: Studio) -> None:
    """The Gradio side: the page is built for every model on offer; an upload reaches aaae's reader unread."""
    from gradio.data_classes import ImageData

    from aaae_cli.studio.page import PhotoInput, Upload, _error, build_app

    app = build_app(studio)
    assert app.title == "aaae studio"
    photo = PhotoInput(type="filepath")
    assert photo.get_block_name() == "image"
    assert photo.preprocess(None) is None
    assert photo.preprocess(ImageData(path="/tmp/gradio/x/me.jpg", orig_name="me.jpg")) == Upload(
        "/tmp/gradio/x/me.jpg", "me.jpg"
    )
    inline = "data:image/png;base64," + base64.b64encode(b"\x89PNG...").decode()
    assert photo.preprocess(ImageData(url=inline)) == Upload(b"\x89PNG...", "pasted")
    assert _error(UserError("a *b*")) == "**error:** a \\*b\\*"
    # Gradio writes a .pyi stub beside the module of each component class it sees; not into aaae's package.
    assert not Path(studio_module.__file__).with_name("page.pyi").exists()
