"""The one bundle writer: ``aaae export``, ``attributes compute``/``calibrate``, the card-notes and landmark-template
scripts, the photo-strength bench and ``aaae push`` write bundle files only through it.

A bundle is built complete in a private folder beside its target (:func:`aaae_cli.bundle.swap.make_beside`):
first its files (the graphs and sample of an export, or the verified bytes of the bundle being changed), then
``attributes.json``, then ``config.json`` (:class:`~aaae_cli.bundle.config.BundleConfig`, whose ``attributes``
block is derived here from the directions themselves), then the model card and the checksum manifest last; only
then is it renamed into place (:func:`aaae_cli.bundle.swap.swap_in`). A crash, Ctrl-C, SIGTERM or a full disk at
any moment leaves the old bundle (or none) at the target with a manifest that matches, never a half-written one
(rewriting files in place, a kill before the manifest once left a bundle every command rejected), and the
temporary folder is removed (or, after a ``kill -9``, by the next write of the same target).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aaae_cli.bundle.attributes import AttributeSet
from aaae_cli.bundle.card import render_card
from aaae_cli.bundle.config import BundleConfig
from aaae_cli.bundle.folder import (
    ATTRIBUTES,
    CARD,
    CONFIG,
    MANIFEST,
    Bundle,
    check_file_name,
    write_json,
    write_manifest,
)
from aaae_cli.bundle.swap import make_beside, swap_in
from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import atomic_write_bytes, atomic_write_text, default_permissions


class BundleWriter:
    """A bundle being built in a private folder beside ``target``; :meth:`commit` finishes it and puts it in place.

    Use it as a context manager: leaving the block without :meth:`commit` (an error, Ctrl-C) removes the
    folder, and an ``OSError`` (a full disk) becomes one line saying nothing was changed::

        with BundleWriter(out) as writer:
            export_graph(..., writer.path("encoder.onnx"))
            writer.commit(config, attributes)
    """

    def __init__(self, target: Path, folder: Path | None = None) -> None:
        self.target = Path(target)
        self.folder = folder if folder is not None else make_beside(self.target)
        self.files: set[str] = set()  # what the manifest will list

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        if isinstance(exc, OSError):  # the old bundle (if any) is untouched
            raise UserError(
                f"{self.target}: cannot write the bundle ({exc.strerror or exc}); nothing was changed"
            ) from None

    def path(self, name: str) -> Path:
        """Where to write the bundle file ``name`` (a plain name); it will be listed in the manifest."""
        self.files.add(check_file_name(name, str(self.target)))
        return self.folder / name

    def write(self, name: str, data: bytes) -> None:
        atomic_write_bytes(self.path(name), data)

    def copy_bundle(self, bundle: Bundle, skip: set[str], changed: Mapping[str, bytes] | None = None) -> None:
        """Stage the verified bytes of every file in ``bundle``'s manifest but those in ``skip``; ``changed``
        gives new bytes for some of them."""
        changed = changed or {}
        for name in sorted(bundle.manifest):
            if name not in skip:
                self.write(name, changed[name] if name in changed else bundle.read(name))

    def seal(self) -> list[str]:
        """Write the checksum manifest of the staged files (the last file of a bundle); returns their names."""
        names = sorted(self.files - {MANIFEST})
        write_manifest(self.folder, names)
        return names

    def commit(self, config: BundleConfig, attributes: AttributeSet, carry_from: Path | None = None) -> BundleConfig:
        """Write ``attributes.json`` (unless staged already), ``config.json`` (its ``attributes`` block summarising
        ``attributes``), the model card and the manifest, then swap the bundle in; returns the config written.

        ``carry_from``: a bundle folder being rewritten in place, whose files outside its manifest (a ``.git``,
        the user's notes) are carried into the new one."""
        if len(attributes) and ATTRIBUTES not in self.files:
            atomic_write_text(self.path(ATTRIBUTES), attributes.to_json(config.c_dim))
        config = config.with_attributes(attributes.values())
        as_dict = config.to_dict()
        write_json(self.path(CONFIG), as_dict)
        atomic_write_text(self.path(CARD), render_card(as_dict, attributes))
        if carry_from is not None:
            for entry in carry_from.iterdir():
                if entry.name not in self.files and entry.name != MANIFEST:
                    _carry(entry, self.folder / entry.name)
        self.seal()
        default_permissions(self.folder)
        swap_in(self.folder, self.target)
        return config


def _carry(source: Path, destination: Path) -> None:
    """Copy a file or folder the user keeps in the bundle folder into the new one."""
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, destination, symlinks=True)
    else:
        shutil.copy2(source, destination, follow_symlinks=False)


def save_bundle(
    bundle: Bundle,
    config: BundleConfig,
    target: Path,
    attributes: AttributeSet | None = None,
    changed: Mapping[str, bytes] | None = None,
) -> BundleConfig:
    """Write ``bundle`` with a new ``config`` (and new ``attributes``, else its own; ``changed``: new bytes for some
    of its other files) at ``target``: in place when ``target`` is its folder (files the folder holds outside the
    bundle are kept), else in a new folder."""
    target = Path(target)
    in_place = target.exists() and target.resolve() == bundle.path.resolve()
    with BundleWriter(target) as writer:
        skip = {CONFIG, CARD, MANIFEST} | ({ATTRIBUTES} if attributes is not None else set())
        writer.copy_bundle(bundle, skip, changed)
        kept = attributes if attributes is not None else bundle.read_attributes()
        return writer.commit(config, kept, carry_from=target if in_place else None)


def update_bundle(folder: Path, change: Callable[[BundleConfig], BundleConfig]) -> BundleConfig:
    """Rewrite the bundle ``folder`` in place with ``change(config)`` (card notes, a landmark template)."""
    folder = Path(folder).resolve()  # a link to the bundle stays a link: the folder it names is swapped
    bundle = Bundle(folder, str(folder))
    return save_bundle(bundle, change(bundle.config), folder)


def set_card_notes(folder: Path, notes: dict[str, Any]) -> BundleConfig:
    """Merge ``notes`` into the ``card`` block of the bundle ``folder`` (training command, data terms, evaluation,
    observations, limitations) and rewrite it (the card-notes scripts)."""
    return update_bundle(folder, lambda config: config.with_card_notes(notes))
