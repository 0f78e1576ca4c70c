"""One owner for the bundle: the typed config reads and writes ``config.json`` unchanged, and every command and
script that writes a bundle gives it the same ``attributes`` block (they once disagreed: ``attributes compute``
and ``calibrate`` dropped its ``split`` and ``images``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aaae_cli.bundle.writer as bundle_writer
from aaae_cli.bundle.config import AttributesSummary, BundleConfig, LandmarkTemplate
from aaae_cli.bundle.folder import Bundle
from aaae_cli.bundle.writer import set_card_notes, update_bundle
from aaae_models import ROOT
from tests.conftest import MNIST, run_cli

SUMMARY_KEYS = ["file", "count", "names", "split", "images"]


@pytest.mark.parametrize("name", ["faces", "digits"])
def test_the_shipped_configs_round_trip(name: str) -> None:
    config = json.loads((ROOT / name / "config.json").read_text())
    assert BundleConfig.from_dict(config).to_dict() == config
    text = json.dumps(BundleConfig.from_dict(config).to_dict(), indent=2, ensure_ascii=False) + "\n"
    assert text == (ROOT / name / "config.json").read_text()  # the same file, key order included


@pytest.mark.parametrize("name", ["faces", "digits"])
def test_the_shipped_attributes_blocks_say_what_the_directions_were_computed_on(name: str) -> None:
    bundle = Bundle(ROOT / name)
    block = bundle.config.to_dict()["attributes"]
    assert list(block) == SUMMARY_KEYS
    derived = AttributesSummary.of(bundle.read_attributes().values())
    assert derived is not None and block == derived.to_dict()


def test_unknown_keys_are_kept() -> None:
    config = json.loads((ROOT / "digits" / "config.json").read_text())
    config["future"] = {"a": 1}
    config["preprocessing"]["future"] = [1, 2]
    config["attributes"]["future"] = "x"
    config["training"]["data"]["future"] = 3
    assert BundleConfig.from_dict(config).to_dict() == config


def _block(bundle: Path) -> dict:
    """The bundle's attributes block, checked against its attributes.json and manifest."""
    opened = Bundle(bundle)
    opened.verify_all()
    block = json.loads((bundle / "config.json").read_text())["attributes"]
    sources = {json.dumps({k: v for k, v in a.source.items() if "calibration" not in k}, sort_keys=True)
               for a in opened.read_attributes().values()}  # fmt: skip
    assert len(sources) == 1, sources
    source = json.loads(sources.pop())
    assert (block["split"], block["images"]) == (source["split"], source["images"])
    assert block["count"] == len(block["names"]) == len(opened.read_attributes())
    return block


def test_every_writer_gives_the_same_attributes_block(tiny_bundle: Path, bundle_copy: Path, tmp_path: Path) -> None:
    exported = _block(tiny_bundle)
    assert list(exported) == SUMMARY_KEYS and exported["split"] == "train"

    computed = tmp_path / "computed"
    result = run_cli("attributes", "compute", "--model", str(bundle_copy), "--data", str(MNIST), "--replace",
                     "--out", str(computed))  # fmt: skip
    assert result.returncode == 0, result.stderr
    block = _block(computed)
    assert list(block) == SUMMARY_KEYS and (block["split"], block["images"]) == ("all", 500)

    result = run_cli("attributes", "calibrate", "--model", str(bundle_copy), "--data", str(MNIST),
                     "--attr", "digit_1", "--target", "0.5", "--images", "20")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _block(bundle_copy) == exported  # calibration changes scales, not what the directions came from

    set_card_notes(bundle_copy, {"data_terms": "Some terms."})  # the card-notes scripts
    assert _block(bundle_copy) == exported
    assert "Some terms." in (bundle_copy / "README.md").read_text()

    template = np.array([[0.35, 0.5], [0.65, 0.5], [0.5, 0.65], [0.38, 0.8], [0.62, 0.8]])
    update_bundle(bundle_copy, lambda c: c.with_landmarks(LandmarkTemplate.measured(template, {"images": 3})))
    assert _block(bundle_copy) == exported
    assert np.array_equal(Bundle(bundle_copy).config.landmark_template, template)


def test_an_interrupted_write_leaves_the_old_bundle(bundle_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.name: p.read_bytes() for p in bundle_copy.iterdir()}

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_writer, "write_manifest", interrupted)  # Ctrl-C just before the manifest
    with pytest.raises(KeyboardInterrupt):
        update_bundle(bundle_copy, lambda config: config.with_card_notes({"data_terms": "Other terms."}))
    assert {p.name: p.read_bytes() for p in bundle_copy.iterdir()} == before
    assert [p.name for p in bundle_copy.parent.iterdir()] == [bundle_copy.name]  # no temporary left
