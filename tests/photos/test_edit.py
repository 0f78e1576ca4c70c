"""Editing your own photos: faces found and aligned, edits at the photo's resolution, bad photos refused.

On the two public-domain portraits in tests/data (NASA's astronaut, the US Navy's Grace Hopper) and copies
transformed with a known similarity (scale, rotation, shift), so the true landmarks are known.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aaae_cli.errors import UserError
from aaae_cli.photos.align import Frame, centre_frame, cut, paste_change, umeyama
from aaae_cli.photos.detect import find_faces
from tests.conftest import ASTRONAUT, DATA, assert_user_error, run_cli

HOPPER = DATA / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def faces_model():
    import aaae_cli as aaae

    return aaae.load("faces", device="cpu")


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _transformed(image: np.ndarray, scale: float, angle: float, canvas: tuple[int, int], centre: tuple[float, float]):
    """``image`` scaled, rotated (degrees) and centred at ``centre`` of a grey canvas; returns it and the map."""
    a = math.radians(angle)
    linear = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    h, w = image.shape[:2]
    shift = np.asarray(centre) - linear @ np.array([w / 2, h / 2])
    forward = np.concatenate([linear, shift[:, None]], axis=1)
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    out = Image.fromarray(image).transform(
        canvas, Image.Transform.AFFINE, tuple(inverse.ravel()), Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)
    )
    return np.asarray(out), forward


# ---------------------------------------------------------------- detection and alignment


@pytest.mark.parametrize("path", [ASTRONAUT, HOPPER], ids=["astronaut", "hopper"])
def test_landmarks_within_five_percent_of_eye_distance_on_transformed_copies(path: Path) -> None:
    image = _rgb(path)
    (truth,) = find_faces(image)
    assert truth.score > 0.99
    for scale, angle, centre in [(0.6, 20, (250, 220)), (1.4, -25, (420, 380)), (0.9, 8, (300, 500))]:
        moved, forward = _transformed(image, scale, angle, (700, 700), centre)
        faces = find_faces(moved)
        assert len(faces) == 1, (scale, angle, len(faces))
        expected = truth.landmarks @ forward[:, :2].T + forward[:, 2]
        eye_distance = np.linalg.norm(expected[1] - expected[0])
        error = np.linalg.norm(faces[0].landmarks - expected, axis=1).max() / eye_distance
        assert error < 0.05, (scale, angle, error)


def test_no_face_in_a_plain_image_and_two_in_a_pair() -> None:
    assert find_faces(np.full((300, 400, 3), 128, np.uint8)) == []
    pair = np.concatenate([np.asarray(Image.open(ASTRONAUT).resize((512, 600))), _rgb(HOPPER)], axis=1)
    assert len(find_faces(pair)) == 2


def test_umeyama_recovers_a_similarity() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (5, 2))
    a = math.radians(30)
    true = np.array([[2 * math.cos(a), -2 * math.sin(a), 5], [2 * math.sin(a), 2 * math.cos(a), -7]])
    found = umeyama(points, points @ true[:, :2].T + true[:, 2])
    np.testing.assert_allclose(found, true, atol=1e-9)


def test_cut_and_paste_follow_the_frame_and_touch_nothing_else() -> None:
    photo = np.random.default_rng(1).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    frame = centre_frame(120, 90, 1.0)  # the 90x90 square at x 15..105
    np.testing.assert_array_equal(cut(photo, frame, 90), photo[:, 15:105])
    change = np.full((90, 90, 3), 10.0, np.float32)
    out = paste_change(photo, frame, change)
    np.testing.assert_array_equal(out[:, :14], photo[:, :14])
    np.testing.assert_array_equal(out[:, 106:], photo[:, 106:])
    inner = out[2:-2, 20:100].astype(int) - photo[2:-2, 20:100]
    assert np.all((inner == 10) | (photo[2:-2, 20:100] > 245))


def test_cut_repeats_edge_pixels_where_the_frame_leaves_the_photo() -> None:
    photo = np.zeros((50, 50, 3), np.uint8)
    photo[:, :, 0] = 200
    frame = Frame(np.array([[1 / 100, 0, 0.25], [0, 1 / 100, 0.25]]))  # a 100-px frame around the photo
    tile = cut(photo, frame, 100)
    assert tile.shape == (100, 100, 3)
    assert np.all(tile[:, :, 0] == 200)


def test_the_faces_model_was_trained_on_faces_aligned_to_its_template(faces_model) -> None:
    from aaae_cli.photos.align import FACE_TEMPLATE

    template = faces_model.landmark_template
    assert template is not None and template.shape == (5, 2)
    assert template[0, 0] < template[2, 0] < template[1, 0]  # left eye, nose, right eye
    assert template[0, 1] < template[2, 1] < template[3, 1]  # eyes above nose above mouth
    landmarks = faces_model.config["preprocessing"]["landmarks"]
    # the training faces were aligned to this very template (aaae train --align face), photos are aligned to it too
    assert "aligned" in landmarks["training"] and landmarks["images"] > 10_000
    np.testing.assert_allclose(template, FACE_TEMPLATE, atol=1e-5)


# ---------------------------------------------------------------- edits at the photo's resolution


def test_zero_strength_returns_the_photo_bit_for_bit(faces_model) -> None:
    edited = faces_model.edit_photo(ASTRONAUT, {"Male": 1.0}, strength=0.0)
    np.testing.assert_array_equal(np.asarray(edited), _rgb(ASTRONAUT))


def test_edit_keeps_size_and_pixels_away_from_the_face(faces_model) -> None:
    photo = _rgb(ASTRONAUT)
    edited = np.asarray(faces_model.edit_photo(ASTRONAUT, {"Blond_Hair": 1.0}))
    assert edited.shape == photo.shape
    (face,) = faces_model.find_faces(photo)
    frame = faces_model.frames(faces_model.load_photo(ASTRONAUT))[0]
    corners = frame.corners()
    x0, y0 = np.floor(corners.min(0)).astype(int) - 3
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 3
    away = np.ones(photo.shape[:2], bool)
    away[max(0, y0) : y1, max(0, x0) : x1] = False
    assert away.sum() > 0.5 * away.size
    np.testing.assert_array_equal(edited[away], photo[away])
    changed = np.abs(edited.astype(int) - photo).max(axis=2) > 2
    assert changed.sum() > 500  # the edit did something, inside the face's frame
    assert face.box[0] - 20 < np.nonzero(changed)[1].mean() < face.box[2] + 20


def test_keep_reduces_the_kept_attributes_change(faces_model) -> None:
    from aaae_cli.evaluation.evaluate import Evaluator, evaluator_roots

    judge = Evaluator(next(r / "evaluator-faces" for r in evaluator_roots()), device="cpu")
    male = judge.classes.index("Male")
    frame = faces_model.frames(faces_model.load_photo(ASTRONAUT))[0]

    def male_probability(image) -> float:
        from aaae_cli.photos.edit import model_view

        view = model_view(np.asarray(image), frame, faces_model.resolution)
        return float(judge.run(view[None])[0][0, male])

    before = male_probability(Image.open(ASTRONAUT).convert("RGB"))
    plain = male_probability(faces_model.edit_photo(ASTRONAUT, {"Mustache": 1.0}))
    kept = male_probability(faces_model.edit_photo(ASTRONAUT, {"Mustache": 1.0}, keep=["male"]))
    assert abs(kept - before) < abs(plain - before)
    shift = faces_model.attributes.shift({"Mustache": 1.0}, keep=["Male", "Eyeglasses"])
    for name in ("Male", "Eyeglasses"):
        direction = faces_model.attributes[name].direction
        assert abs(float(shift @ direction)) < 1e-4 * float(np.linalg.norm(shift) * np.linalg.norm(direction))


def test_every_face_is_edited_unless_one_is_chosen(faces_model) -> None:
    pair = np.concatenate([np.asarray(Image.open(ASTRONAUT).resize((512, 600))), _rgb(HOPPER)], axis=1)
    both = np.asarray(faces_model.edit_photo(pair, {"Eyeglasses": 1.0}))
    second = np.asarray(faces_model.edit_photo(pair, {"Eyeglasses": 1.0}, face=2))
    left, right = slice(0, 512), slice(512, 1024)
    assert (both[:, left] != pair[:, left]).any() and (both[:, right] != pair[:, right]).any()
    np.testing.assert_array_equal(second[:, left], pair[:, left])
    assert (second[:, right] != pair[:, right]).any()
    with pytest.raises(UserError, match="only 2 faces"):
        faces_model.edit_photo(pair, {"Eyeglasses": 1.0}, face=3)


def test_encode_aligns_the_face_like_the_training_faces(faces_model) -> None:
    """A rotated, shifted copy encodes close to the original: alignment undoes the transform."""
    image = _rgb(ASTRONAUT)
    moved, _ = _transformed(image, 0.8, 20, (640, 560), (360, 300))
    codes = faces_model.encode([image, moved])
    other = faces_model.encode(HOPPER)[0]
    assert np.linalg.norm(codes[0] - codes[1]) < 0.5 * np.linalg.norm(codes[0] - other)


@pytest.mark.parametrize("mode", ["L", "CMYK", "I;16", "RGBA"])
def test_photos_of_any_mode_are_edited_at_their_size(faces_model, mode: str) -> None:
    img = Image.open(ASTRONAUT).convert("L" if mode in ("L", "I;16") else "RGB")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
    elif mode != "L":
        img = img.convert(mode)
    out = faces_model.edit_photo(img, {"Smiling": -1.0})
    assert out.size == img.size
    assert ("A" in out.mode) == (mode == "RGBA")


def test_an_exif_rotated_photo_is_edited_upright(faces_model, tmp_path: Path) -> None:
    upright = Image.open(ASTRONAUT).crop((0, 0, 512, 400))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # on disk sideways; EXIF says: turn it back
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)
    out = faces_model.edit_photo(path, {"Male": 1.0})
    assert out.size == upright.size == (512, 400)
    assert out.getexif().get(0x0112) is None


def test_a_face_cut_by_the_photos_edge_is_padded(faces_model) -> None:
    image = _rgb(ASTRONAUT)[70:, 150:300]  # the hair and the left of the frame are outside the photo
    assert faces_model.find_faces(image)
    out = np.asarray(faces_model.edit_photo(image, {"Black_Hair": 1.0}))
    assert out.shape == image.shape and (out != image).any()


# ---------------------------------------------------------------- the commands, through the real process


def test_edit_command_writes_the_whole_photo_in_its_format(tmp_path: Path) -> None:
    photo = tmp_path / "me.jpg"
    Image.open(HOPPER).save(photo, quality=95)
    result = run_cli("edit", str(photo), "--attr", "smiling", "--keep", "male,eyeglasses", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "me-edited.jpg"
    with Image.open(out) as img:
        assert img.format == "JPEG" and img.size == (512, 600)
    assert "1 face edited" in result.stderr and "keeping Male, Eyeglasses" in result.stderr


def test_sweep_shows_the_aligned_face_at_a_useful_size(tmp_path: Path) -> None:
    out = tmp_path / "sweep.png"
    result = run_cli("edit", str(ASTRONAUT), "--attr", "male", "--sweep", "0:1:3", "--compare", "-o", str(out))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as img:
        assert img.height >= 256 and img.width >= 5 * 256


def test_edit_folder_keeps_names_and_counts_what_it_skips(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.open(ASTRONAUT).save(photos / "a.png")
    Image.open(HOPPER).save(photos / "sub" / "b.jpg")
    Image.new("RGB", (200, 150), (90, 120, 200)).save(photos / "sky.jpg")
    (photos / "broken.jpg").write_bytes(b"not an image")
    result = run_cli("edit", str(photos), "--attr", "eyeglasses", "-o", str(tmp_path / "edited"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "edited" / "a.png").is_file() and (tmp_path / "edited" / "sub" / "b.jpg").is_file()
    assert not (tmp_path / "edited" / "sky.jpg").exists()
    text = " ".join(result.stderr.split())
    assert "wrote 2 photo(s)" in text and "1 without a face skipped" in text and "1 unreadable skipped" in text


def test_reconstruct_and_interpolate_align_photos(tmp_path: Path) -> None:
    moved, _ = _transformed(_rgb(ASTRONAUT), 0.7, -20, (600, 500), (280, 260))
    Image.fromarray(moved).save(tmp_path / "tilted.png")
    result = run_cli("reconstruct", str(tmp_path / "tilted.png"), "-o", str(tmp_path / "r.png"))
    assert result.returncode == 0, result.stderr
    result = run_cli("interpolate", str(tmp_path / "tilted.png"), str(HOPPER), "-o", str(tmp_path / "i.gif"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("make", "args", "fragments"),
    [
        ("sky", [], ["sky.png: no face found", "--align none"]),
        ("tiny", [], ["too small to align"]),
        ("pair", ["--face", "3"], ["--face 3", "only 2 faces"]),
        ("astronaut", ["--keep", "male"], ["--keep 'male'", "the one being edited"]),
        ("astronaut", ["--keep", "wings"], ["unknown attribute 'wings'"]),
        ("astronaut", ["--align", "sideways"], ["--align 'sideways'"]),
    ],
)
def test_bad_photo_edits_fail_with_one_line_and_no_output(
    tmp_path: Path, make: str, args: list[str], fragments
) -> None:
    if make == "sky":
        Image.new("RGB", (300, 200), (90, 120, 200)).save(tmp_path / "sky.png")
    elif make == "tiny":
        Image.open(ASTRONAUT).resize((100, 100), Image.Resampling.LANCZOS).save(tmp_path / "tiny.png")
    elif make == "pair":
        pair = np.concatenate([np.asarray(Image.open(ASTRONAUT).resize((512, 600))), _rgb(HOPPER)], axis=1)
        Image.fromarray(pair).save(tmp_path / "pair.png")
    else:
        Image.open(ASTRONAUT).save(tmp_path / "astronaut.png")
    out = tmp_path / "out.png"
    result = run_cli("edit", str(tmp_path / f"{make}.png"), "--attr", "male", *args, "-o", str(out))
    assert_user_error(result, *fragments)
    assert not out.exists()


def test_edit_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    photo = tmp_path / "me.png"
    Image.open(ASTRONAUT).save(photo)
    before = photo.read_bytes()
    assert_user_error(run_cli("edit", str(photo), "--attr", "male", "-o", str(photo)), "is one of the input images")
    assert photo.read_bytes() == before


def test_align_none_keeps_the_centre_crop(faces_model) -> None:
    faces_model.align = "none"
    try:
        sky = Image.new("RGB", (300, 200), (90, 120, 200))
        out = faces_model.edit_photo(sky, {"Male": 1.0})
        assert out.size == (300, 200)
    finally:
        faces_model.align = "auto"


def test_large_photo_is_searched_on_a_bounded_copy(faces_model) -> None:
    big = Image.open(ASTRONAUT).resize((4000, 4000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=80)
    out = faces_model.edit_photo(buffer.getvalue(), {"Smiling": -1.0})
    assert out.size == (4000, 4000)


def test_attributes_compute_aligns_the_faces_in_a_folder_of_photos(faces_model, tmp_path: Path) -> None:
    """Directions from a folder of photos use the faces as the model sees them: found and aligned."""
    folder = tmp_path / "people"
    photos: dict[str, list[Path]] = {"astronaut": [], "hopper": []}
    for name, path in (("astronaut", ASTRONAUT), ("hopper", HOPPER)):
        (folder / name).mkdir(parents=True)
        for k, (scale, angle) in enumerate([(0.7, -15), (0.9, 10), (0.6, 22)]):
            moved, _ = _transformed(_rgb(path), scale, angle, (640, 600), (300 + 20 * k, 280))
            target = folder / name / f"{k}.png"
            Image.fromarray(moved).save(target)
            photos[name].append(target)
    out = tmp_path / "bundle"
    result = run_cli(
        "attributes", "compute", "--model", "faces", "--data", str(folder), "--min-count", "2", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    import aaae_cli as aaae

    direction = aaae.load(out, device="cpu").attributes["astronaut"].direction
    codes = {name: faces_model.encode(paths) for name, paths in photos.items()}
    expected = codes["astronaut"].mean(0) - codes["hopper"].mean(0)
    np.testing.assert_allclose(direction, expected, rtol=1e-3, atol=1e-3)


def test_a_25_megapixel_photo_is_edited_in_bounded_memory(tmp_path: Path) -> None:
    """The photo is searched on a 1280-px copy and edited in place: peak memory stays near the photo's own size."""
    import subprocess
    import sys

    big = tmp_path / "big.jpg"
    Image.open(ASTRONAUT).resize((5000, 5000), Image.Resampling.BICUBIC).save(big, quality=80)
    script = (
        "import resource, subprocess, sys; "
        f"r = subprocess.run([sys.executable, '-m', 'aaae_cli', 'edit', {str(big)!r}, '--attr', 'male', "
        f"'-o', {str(tmp_path / 'out.jpg')!r}]); "
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    code, peak_kb = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True).stdout.split()
    assert code == "0"
    assert int(peak_kb) < 600_000, peak_kb  # the 75 MB photo, its copy for writing, sessions, buffers
    with Image.open(tmp_path / "out.jpg") as img:
        assert img.size == (5000, 5000)


def test_a_template_is_measured_for_faces_and_not_for_other_images() -> None:
    """What 'aaae export' stores: the mean landmarks of framed faces; nothing for images that are not faces."""
    from aaae_cli.photos.align import measure_template

    rng = np.random.default_rng(0)
    crops = []
    for path in (ASTRONAUT, HOPPER):
        image = _rgb(path)
        (face,) = find_faces(image)
        side = 2.6 * face.eye_distance
        for _ in range(6):
            cx, cy = face.landmarks[:2].mean(0) + rng.normal(0, 2, 2) + [0, 0.2 * side]
            box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
            crops.append(np.asarray(Image.fromarray(image).crop(tuple(round(v) for v in box)).resize((64, 64))))
    template, found = measure_template(np.stack(crops), probe=4)
    assert found == len(crops) and template is not None
    assert 0.25 < template[0, 0] < 0.45 and 0.55 < template[1, 0] < 0.75  # eyes where the crops put them
    noise = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    assert measure_template(noise, probe=4) == (None, 0)
