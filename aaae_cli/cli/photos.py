"""Your photos: ``aaae edit`` (a photo, or a folder of photos, edited at its own resolution) and ``aaae faces``.

Thin wrappers over :meth:`aaae_cli.api.Model.edit_photo` and its parts: options are checked and the edit
direction is built (an unknown or contradictory attribute fails) before any photo is read, and every output
is written atomically, so a bad input leaves nothing behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from PIL import Image

from aaae_cli.cli._options import (
    AlignOption,
    CropOption,
    DeviceOption,
    FaceOption,
    ModelOption,
    OverwriteOption,
    load_model,
    said,
)
from aaae_cli.cli._overwrite import refuse_overwriting_inputs, refuse_writing_into_model
from aaae_cli.errors import UserError
from aaae_cli.images import IMAGE_FORMATS, STILL_SUFFIXES, check_output_path, list_images, make_grid, save_image, zoom
from aaae_cli.utils.progress import RichProgress, out
from aaae_cli.utils.terminal import shown as _e

if TYPE_CHECKING:
    from aaae_cli.api import Model
    from aaae_cli.photos.io import Photo

commands = typer.Typer()  # registered on the app by aaae_cli.cli.app, in this order

# Side, in pixels, of each face tile in --sweep and --compare (the aligned face region, not the model's view).
TILE = 256


def parse_keep(values: list[str] | None) -> list[str]:
    """``["male,eyeglasses", "young"]`` -> ``["male", "eyeglasses", "young"]``."""
    names = [name.strip() for value in values or [] for name in value.split(",")]
    if any(not name for name in names):
        raise UserError("--keep: give attribute names separated by commas, e.g. --keep male,eyeglasses")
    return names


def default_output(image: Path) -> Path:
    suffix = image.suffix.lower() if image.suffix.lower() in STILL_SUFFIXES else ".png"
    return Path(f"{image.stem}-edited{suffix}")


@commands.command(
    epilog="Examples:\n\n"
    "  aaae edit me.jpg --attr male                          # writes me-edited.jpg, every face edited\n\n"
    "  aaae edit me.jpg --attr smiling --attr eyeglasses --strength 1.5 -o out.png\n\n"
    "  aaae edit me.jpg --attr smiling=-1 -o serious.jpg     # remove an attribute\n\n"
    "  aaae edit me.jpg --attr young --keep eyeglasses,male  # younger, without adding glasses\n\n"
    "  aaae edit group.jpg --attr blond_hair --face 2        # only the second face from the left\n\n"
    "  aaae edit group.jpg --attr smiling --faces all        # every face found, even turned away or blurred\n\n"
    "  aaae edit photos/ --attr smiling -o edited/           # a whole folder\n\n"
    "  aaae edit me.jpg --attr male --sweep -2:2:5 --compare -o sweep.png",
)
def edit(
    image: Annotated[Path, typer.Argument(help="A photo, or a folder of photos (searched recursively).")],
    attr: Annotated[
        list[str],
        typer.Option(
            "--attr",
            "-a",
            help="Attribute to add, any case (repeat for several); NAME=S gives it its own strength, "
            "negative to remove it. See 'aaae attributes list'.",
            show_default=False,
        ),
    ],
    strength: Annotated[
        float | None, typer.Option(help="How far to move along the directions \\[default: 1.0].", show_default=False)
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep",
            "-k",
            help="Attributes that must not change, comma-separated (e.g. male,eyeglasses): the edit is made "
            "orthogonal to their directions.",
            show_default=False,
        ),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option(help="A row of strengths START:STOP:COUNT of the face instead, e.g. -2:2:5.", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Photo to write (.png, .jpg, .webp; the input's size) or, for a folder, the output folder "
            "\\[default: NAME-edited.EXT here; for a folder, FOLDER-edited].",
            show_default=False,
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option("--compare", help="A row of the face, the model's reconstruction of it, and the edited face."),
    ] = False,
    face: FaceOption = None,
    faces: Annotated[
        str,
        typer.Option(
            "--faces",
            help="auto: only the faces the model can edit well (turned away, out of focus, tiny or doubtful "
            "faces are skipped and named); all: every face found.",
        ),
    ] = "auto",
    align: AlignOption = "auto",
    overwrite: OverwriteOption = False,
    zoom_by: Annotated[int, typer.Option("--zoom", min=1, max=16, help="Enlarge each row tile N times.")] = 1,
    crop: CropOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Add or remove attributes (smiling, male, ...) on your own photo, at its own resolution.

    Every face is found, aligned like the model's training faces, edited, and only the model's change is put
    back: the rest of the photo keeps its exact pixels, and the output has the photo's size and format.
    """
    from aaae_cli.cli._options import parse_edits, parse_sweep
    from aaae_cli.cli._output import check_grid_size

    if strength is not None and sweep is not None:
        raise UserError("give either --strength or --sweep, not both")
    if faces not in ("auto", "all"):
        raise UserError(f"--faces {faces!r}: use auto or all")
    all_faces = faces == "all"
    strengths = parse_sweep(sweep) if sweep is not None else [1.0 if strength is None else strength]
    if not all(np.isfinite(strengths)):
        raise UserError("--strength must be a finite number")
    edits = parse_edits(attr, 1.0)
    kept = parse_keep(keep)
    source = image.expanduser()
    if not source.exists():
        raise UserError(f"{image}: no such file or folder")
    if source.is_dir():
        if sweep is not None or compare:
            raise UserError("--sweep and --compare show one photo; give a photo, not a folder")
        target = (output or Path(f"{source.name}-edited")).expanduser()
        _check_folder_output(source, target)
    else:
        suffixes = STILL_SUFFIXES
        target = check_output_path(output if output is not None else default_output(source), suffixes)
        refuse_overwriting_inputs([target], [source], overwrite)
    net = load_model(model, device, crop, align)
    if not source.is_dir():
        refuse_writing_into_model([target], net.bundle.path)
    if sweep is not None or compare:  # a row that aaae could not read back is refused up front
        tile = TILE if net.aligns_faces else net.resolution
        check_grid_size(len(strengths) + 2 * compare, tile * zoom_by, "images in a row")
    resolved: dict[str, float] = {}
    for name, value in edits.items():
        key = net.attributes.resolve(name)
        resolved[key] = resolved.get(key, 0.0) + value
    net.attributes.shift(resolved, keep=kept, photo=True)  # a bad --keep fails before any photo is read
    shown = ", ".join(f"{k} {v * strengths[0]:+g}" for k, v in resolved.items())
    held = f", keeping {', '.join(dict.fromkeys(net.attributes.resolve(k) for k in kept))}" if kept else ""
    if source.is_dir():
        done, skipped = _edit_folder(net, source, target, resolved, strengths[0], kept, face, overwrite, all_faces)
        said(f"wrote {done} photo(s) to {_e(str(target))} ({_e(shown)}{_e(held)}){skipped}")
        return
    photo = net.load_photo(source)
    if sweep is not None or compare:
        row = _face_row(net, photo, resolved, strengths, kept, face, compare)
        save_image(make_grid(zoom(row, zoom_by), cols=len(row)), target)
        what = f"strengths {sweep}" if sweep else shown
        said(f"wrote {_e(str(target))}: the face in {_e(source.name)} edited ({_e(what)}{_e(held)})")
        return
    result = net.edit_loaded_photo(photo, resolved, strengths[0], kept, face, all_faces)
    searched = net.aligns_faces and not photo.framed
    if searched and result.edited == 0:
        raise UserError(
            f"{source.name}: {result.summary()}; nothing written (--faces all edits every face found, "
            "--face N the one you choose)"
        )
    where = result.summary() if searched else "the image edited"
    if photo.alpha is not None and IMAGE_FORMATS.get(target.suffix.lower()) == "JPEG":
        from aaae_cli.photos.io import flatten

        del result  # its image shares the transparent copy, which a JPEG cannot hold
        _save(flatten(photo), target, photo)
    else:
        _save(result.image, target, photo)
    said(f"wrote {_e(str(target))}: {_e(source.name)}, {where} ({_e(shown)}{_e(held)})")


def _check_folder_output(source: Path, target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise UserError(f"{target}: exists and is not a folder")
    if target.resolve() == source.resolve():
        raise UserError(f"{target}: is the input folder; choose another output folder")
    if not target.parent.expanduser().is_dir():
        raise UserError(f"{target}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UserError(f"{target}: cannot write there (permission denied)")


def _save(edited: Image.Image, target: Path, like: Photo) -> None:
    from aaae_cli.photos.io import save_photo

    save_photo(edited, target, like)


def _face_row(
    net: Model,
    photo: Photo,
    edits: dict[str, float],
    strengths: list[float],
    keep: list[str],
    face: int | None,
    compare: bool,
) -> np.ndarray:
    """Tiles of one face: [the face, its reconstruction] if ``compare``, then the edit at each strength. Face
    models show the aligned face region at :data:`TILE` px (the model's reconstruction enlarged to match);
    others show the model's frame at the model's resolution."""
    from aaae_cli.photos.align import cut
    from aaae_cli.photos.edit import edit_pixels

    frame = net.frames(photo, face=face)[0]
    size = TILE if net.aligns_faces and not photo.framed else net.resolution
    edited = edit_pixels(net, photo, [frame], edits, strengths, keep)
    tiles = [cut(pixels, frame, size) for pixels in edited]
    if compare:
        from aaae_cli.photos.edit import model_view

        view = model_view(photo.pixels, frame, net.resolution)
        recon = net.decode(net.encode(view[None]))[0]
        if size != net.resolution:
            mode = "L" if recon.shape[2] == 1 else "RGB"
            big = Image.fromarray(recon[:, :, 0] if mode == "L" else recon, mode).resize((size, size), Image.LANCZOS)
            recon = np.asarray(big).reshape(size, size, -1)
        tiles = [cut(photo.pixels, frame, size), recon, *tiles]
    return np.stack(tiles)


def _edit_folder(
    net: Model,
    source: Path,
    target: Path,
    edits: dict[str, float],
    strength: float,
    keep: list[str],
    face: int | None,
    overwrite: bool = False,
    all_faces: bool = False,
) -> tuple[int, str]:
    """Edit every photo below ``source`` into ``target`` (same relative names and formats, clashes renamed);
    skip and count photos that cannot be read or have no face to edit. The output folder is checked before any
    photo is edited, and the photos appear there only once all were written (:mod:`aaae_cli.cli._folder_edits`)."""
    from aaae_cli.cli._folder_edits import check_targets, plan_names
    from aaae_cli.cli._output import StagedFolder
    from aaae_cli.images import ImageReadError

    # An output folder inside the input folder is not read as input; one that holds the input folder (-o .) is.
    inside = target.resolve()
    nested = inside in source.resolve().parents
    files = [f for f in list_images(source) if nested or inside not in f.resolve().parents]
    if not files:
        raise UserError(f"{source}: no image files in this folder")
    names, renamed = plan_names(files, source, STILL_SUFFIXES)
    check_targets(target, names, overwrite)
    refuse_writing_into_model([target / name for name in names], net.bundle.path, target)
    done, no_face, unreadable = 0, 0, 0
    with StagedFolder(target) as staged, RichProgress().task("editing", len(files)) as task:
        for path, name in zip(files, names, strict=True):
            try:
                photo = net.load_photo(path)
                result = net.edit_loaded_photo(photo, edits, strength, keep, face, all_faces)
                if result.edited == 0 and net.aligns_faces and not photo.framed:
                    raise UserError(result.summary())
                edited = result.image
            except ImageReadError:
                unreadable += 1
                task.advance(1)
                continue
            except UserError:
                no_face += 1
                task.advance(1)
                continue
            _save(edited, staged.path(name), photo)
            done += 1
            task.advance(1)
    notes = []
    if renamed:
        example = f"{files[renamed[0]].relative_to(source)} -> {names[renamed[0]]}"
        notes.append(f"{len(renamed)} renamed so that no two photos share a name (e.g. {example})")
    if no_face:
        notes.append(f"{no_face} without a face" + (f" number {face}" if face else "") + " skipped")
    if unreadable:
        notes.append(f"{unreadable} unreadable skipped")
    return done, ("; " + "; ".join(notes)) if notes else ""


@commands.command(
    epilog="Examples:\n\n  aaae faces group.jpg\n\n  aaae faces group.jpg -o faces.png   # the aligned faces",
)
def faces(
    image: Annotated[Path, typer.Argument(help="A photo.", show_default=False)],
    model: ModelOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Also write the aligned faces as a row of tiles.", show_default=False),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """List the faces found in a photo, numbered from the left, as '--face N' counts them."""
    from aaae_cli.photos.align import cut

    target = check_output_path(output) if output is not None else None
    if not image.expanduser().is_file():
        raise UserError(f"{image}: no such file")
    refuse_overwriting_inputs([target], [image], overwrite)  # issue 23: -o PHOTO replaced the photo
    net = load_model(model, "cpu")
    refuse_writing_into_model([target], net.bundle.path)
    photo = net.load_photo(image.expanduser())
    found = net.find_faces(photo)
    if not found:
        raise UserError(f"{image}: no face found")
    for number, item in enumerate(found, 1):
        x0, y0, x1, y1 = item.box
        out.print(
            f"{number}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), eyes {item.eye_distance:.0f} px apart, "
            f"confidence {item.score:.3f}"
        )
    if target is not None:
        frames = net.frames(photo, every=True) if net.aligns_faces else []
        if not frames:
            raise UserError(f"{net.name} has no landmark template: no aligned faces to show")
        save_image(make_grid(np.stack([cut(photo.pixels, f, TILE) for f in frames]), cols=len(frames)), target)
        said(f"wrote {_e(str(target))}: {len(frames)} aligned face(s)")
