"""Edits that look like photos: colour kept, no halos, the photo's detail kept, the wrong faces skipped.

Through the real ``aaae edit`` process on the public-domain portraits in tests/data and copies of them made
grey, sepia, colour-cast, turned by a quarter or half turn, or with a blurred face pasted in beside the subject.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from aaae_cli.photos.checks import MAX_YAW, pose, summary
from aaae_cli.photos.edit import EditScope, fill_outside, frame_inside, is_monochrome
from tests.conftest import ASTRONAUT, DATA, run_cli

HOPPER = DATA / "grace_hopper.jpg"
TEMPLATE = np.array([[0.36614, 0.52403], [0.64432, 0.5237], [0.50187, 0.69617], [0.37977, 0.82059], [0.62804, 0.81885]])


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def _chroma(pixels: np.ndarray) -> np.ndarray:
    return pixels.max(axis=2) - pixels.min(axis=2)


def _edit(source: Path, out: Path, *args: str) -> str:
    result = run_cli("edit", str(source), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    return " ".join(result.stderr.split())


def _sepia(rgb: np.ndarray) -> np.ndarray:
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    tone = np.stack([grey * 1.07, grey * 0.93, grey * 0.74], axis=2)
    return np.clip(np.rint(tone), 0, 255).astype(np.uint8)


def test_grey_and_sepia_photos_stay_without_colour(tmp_path: Path) -> None:
    """A luminance-only change: no colour is added anywhere, for hair colour and skin edits alike."""
    rgb = _rgb(ASTRONAUT).astype(np.uint8)
    grey = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None], 3, axis=2)
    for name, pixels in (("grey", grey), ("sepia", _sepia(rgb))):
        source = tmp_path / f"{name}.png"
        Image.fromarray(pixels).save(source)
        out = tmp_path / f"{name}-edited.png"
        _edit(source, out, "--attr", "blond_hair", "--attr", "young")
        before, after = pixels.astype(np.int16), _rgb(out)
        assert np.abs(after - before).mean() > 0.5, "the edit must change the photo"
        added = np.maximum(0, _chroma(after) - _chroma(before))
        assert added.max() <= 2, (name, added.max())


def test_edits_not_about_colour_keep_the_hue_even_under_a_colour_cast(tmp_path: Path) -> None:
    """Smiling and Male change only the luminance: the skin keeps its hue and a cast does not leak in."""
    rgb = _rgb(ASTRONAUT)
    cast = np.clip(rgb * np.array([0.85, 1.1, 0.8]), 0, 255).astype(np.uint8)
    for name, pixels in (("colour", rgb.astype(np.uint8)), ("cast", cast)):
        source = tmp_path / f"{name}.png"
        Image.fromarray(pixels).save(source)
        out = tmp_path / f"{name}-edited.png"
        _edit(source, out, "--attr", "smiling", "--attr", "male")
        before, after = pixels.astype(np.int16), _rgb(out)
        assert np.abs(after - before).mean() > 0.5
        assert np.maximum(0, _chroma(after) - _chroma(before)).max() <= 2


def test_a_hair_colour_edit_colours_the_hair_and_spares_the_skin_and_backdrop(tmp_path: Path) -> None:
    out = tmp_path / "blond.png"
    _edit(ASTRONAUT, out, "--attr", "blond_hair")
    before, after = _rgb(ASTRONAUT), _rgb(out)
    change = np.abs(after - before).max(axis=2)
    # The astronaut's hair (above her forehead), her cheeks, and the plain backdrop beside her head.
    hair = change[60:95, 190:330].mean()
    cheeks = change[200:240, 200:300].mean()
    backdrop = change[60:160, 40:110].mean()
    assert hair > 4.0, hair
    assert cheeks < 0.25 * hair, (cheeks, hair)
    assert backdrop < 0.1 * hair, (backdrop, hair)


def test_a_blurred_face_beside_the_subject_is_skipped_and_named(tmp_path: Path) -> None:
    """A blurred bystander is found but not painted on; ``--faces all`` edits it anyway."""
    photo = Image.open(ASTRONAUT).convert("RGB")
    face = Image.open(HOPPER).convert("RGB").crop((150, 90, 390, 360)).resize((120, 135))
    photo.paste(face.filter(ImageFilter.GaussianBlur(4)), (372, 20))
    source = tmp_path / "with-bystander.png"
    photo.save(source)
    out = tmp_path / "edited.png"
    said = _edit(source, out, "--attr", "smiling")
    assert "1 face edited, 1 skipped (out of focus)" in said, said
    before, after = _rgb(source), _rgb(out)
    assert np.array_equal(after[20:155, 372:492], before[20:155, 372:492])
    said = _edit(source, tmp_path / "all.png", "--attr", "smiling", "--faces", "all")
    assert "2 faces edited" in said, said
    assert not np.array_equal(_rgb(tmp_path / "all.png")[20:155, 372:492], before[20:155, 372:492])


def test_nothing_is_written_when_every_face_is_skipped(tmp_path: Path) -> None:
    big = Image.new("RGB", (900, 700), (120, 120, 120))
    face = Image.open(ASTRONAUT).convert("RGB").crop((130, 20, 330, 260)).filter(ImageFilter.GaussianBlur(3))
    big.paste(face, (350, 200))
    sharp = Image.open(HOPPER).convert("RGB").crop((150, 90, 390, 360)).resize((200, 225))
    big.paste(sharp, (20, 20))
    source = tmp_path / "two.png"
    big.save(source)
    said = _edit(source, tmp_path / "out.png", "--attr", "smiling", "--face", "2")
    assert "1 face edited" in said


@pytest.mark.parametrize("turns", [1, 2], ids=["quarter-turn", "half-turn"])
def test_a_turned_photo_is_searched_turned_back_and_edited_upright(tmp_path: Path, turns: int) -> None:
    upright_out = tmp_path / "upright.png"
    _edit(HOPPER, upright_out, "--attr", "smiling")
    turned = np.rot90(_rgb(HOPPER).astype(np.uint8), turns)
    source = tmp_path / "turned.png"
    Image.fromarray(np.ascontiguousarray(turned)).save(source)
    out = tmp_path / "turned-edited.png"
    said = _edit(source, out, "--attr", "smiling")
    assert "1 face edited" in said, said
    expected = np.rot90(_rgb(upright_out) - _rgb(HOPPER), turns)
    got = _rgb(out) - turned.astype(np.int16)
    # The same change in the same place (up to the detector's few-pixel differences between the two searches).
    assert np.abs(expected).mean() > 0.3
    assert np.abs(got - expected).mean() < 0.6 * np.abs(expected).mean()  # placed upside down: 1.3 x


def test_pose_reads_a_turned_head_and_the_checks_name_it() -> None:
    frontal = TEMPLATE * 100 + 50
    assert abs(pose(frontal, TEMPLATE)[0]) < 1e-9
    turned = frontal.copy()
    turned[2, 0] += 0.6 * (frontal[1, 0] - frontal[0, 0])  # the nose well past the eyes' midpoint
    turned[1, 0] -= 0.3 * (frontal[1, 0] - frontal[0, 0])  # and the far eye foreshortened
    yaw, _, _ = pose(turned, TEMPLATE)
    assert yaw > MAX_YAW
    assert summary(2, ["turned away"]) == "2 faces edited, 1 skipped (turned away)"
    assert summary(1, ["turned away", "out of focus"]) == "1 face edited, 2 skipped (1 turned away, 1 out of focus)"
    assert summary(0, []) == "0 faces edited"


def test_monochrome_photos_are_told_from_colour_ones() -> None:
    rgb = _rgb(ASTRONAUT).astype(np.uint8)
    grey = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None], 3, axis=2)
    assert is_monochrome(grey) and is_monochrome(_sepia(rgb))
    assert not is_monochrome(rgb) and not is_monochrome(_rgb(HOPPER).astype(np.uint8))
    assert EditScope.of({"Blond_Hair": 1.0}) == EditScope(colour=True, hair_only=True)
    assert EditScope.of({"Smiling": 1.0, "Male": -1.0}) == EditScope(colour=False, hair_only=False)
    assert EditScope.of({"Smiling": 1.0, "Black_Hair": 1.0}) == EditScope(colour=True, hair_only=False)


def test_the_part_of_a_tight_crop_outside_the_photo_is_filled_smoothly() -> None:
    """Not with streaks of repeated edge pixels, which the model would copy into its rendering."""
    from aaae_cli.photos.align import Frame

    rows = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    frame = Frame(np.array([[1 / 64, 0, 0], [0, 1 / 64, 16 / 64]]))  # the top quarter lies above the photo
    covered = frame_inside(frame, 64, 64, 64)
    assert covered[:16].max() == 0 and covered[16:].min() == 1
    streaks = rows.copy()
    streaks[:16] = rows[16]  # what repeating the edge row gives
    filled = fill_outside(streaks, covered).astype(np.float32)
    assert np.array_equal(filled[16:], streaks[16:])
    across = np.abs(np.diff(filled[:12], axis=1)).mean()
    assert across < 0.2 * np.abs(np.diff(streaks[:12].astype(np.float32), axis=1)).mean()


def test_removing_an_attribute_may_have_its_own_photo_scale() -> None:
    from aaae_cli.bundle.attributes import Attribute, AttributeSet
    from aaae_cli.errors import UserError

    direction = np.ones(4, np.float32)
    smile = Attribute("Smiling", direction, 10, 10, scale=1.0, photo_scale=2.0, photo_scale_remove=3.0)
    attributes = AttributeSet([smile])
    assert np.allclose(attributes.shift({"smiling": 1.0}, photo=True), 2.0)
    assert np.allclose(attributes.shift({"smiling": -1.0}, photo=True), -3.0)
    assert np.allclose(attributes.shift({"smiling": -1.0}), -1.0)
    again = AttributeSet.from_json(attributes.to_json(4), 4, "attributes.json")
    assert again["smiling"].photo_scale_remove == 3.0
    broken = attributes.to_json(4).replace('"photo_scale_remove": 3.0', '"photo_scale_remove": -1')
    with pytest.raises(UserError, match="photo_scale_remove"):
        AttributeSet.from_json(broken, 4, "attributes.json")
