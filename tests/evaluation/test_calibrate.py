"""``aaae attributes calibrate`` on the tiny digit bundle and the shipped digit evaluator (real digits)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import aaae_cli as aaae
from aaae_cli.evaluation.calibrate import LADDER
from aaae_cli.evaluation.evaluate import Evaluator, find_evaluator, load_eval_data
from tests.conftest import MNIST, assert_user_error, run_cli


def test_calibrate_stores_scales_that_do_what_they_say(bundle_copy: Path) -> None:
    result = run_cli(
        "attributes", "calibrate", "--model", str(bundle_copy), "--data", str(MNIST),
        "--attr", "digit_1", "--attr", "digit_7", "--target", "0.5", "--images", "40", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary["attributes"]) == {"digit_1", "digit_7"}
    model = aaae.load(bundle_copy)  # checksums were rewritten: it still loads
    judge = find_evaluator(None, model, "cpu")
    assert isinstance(judge, Evaluator)
    data = load_eval_data(MNIST, None, model, "val", 1, 2000, 0)  # the calibration's images: training split
    codes = model.encode(data.training)
    before = judge.run(model.decode(codes))[0]
    for name, found in summary["attributes"].items():
        attribute = model.attributes[name]
        assert attribute.scale == found["scale"] and attribute.scale in LADDER
        stored = attribute.source["calibration"]
        assert stored["split"] == "training" and stored["flip_rate"] == round(found["flip_rate"], 4)
        assert found["reached"] == (found["flip_rate"] >= 0.5)
        # Re-measure: an edit at strength 1 now moves these images by exactly the stored scale.
        column = judge.classes.index(name)
        picked = np.flatnonzero(before[:, column] < 0.5)[: found["images"]]
        edited = model.decode(codes[picked] + model.attributes.shift({name: 1.0})[None])
        rate = float((judge.run(edited)[0][:, column] >= 0.5).mean())
        assert abs(rate - found["flip_rate"]) < 1e-9
    listed = run_cli("attributes", "list", "--model", str(bundle_copy)).stdout
    assert "calibrated" in listed and f"{summary['attributes']['digit_1']['flip_rate']:.0%}" in listed
    untouched = model.attributes["digit_3"]
    assert untouched.scale == 1.0 and "calibration" not in untouched.source


def test_calibrate_bad_input(bundle_copy: Path, tmp_path: Path) -> None:
    assert_user_error(
        run_cli("attributes", "calibrate", "--model", str(bundle_copy), "--data", str(MNIST), "--target", "1.5"),
        "--target",
    )
    assert_user_error(
        run_cli("attributes", "calibrate", "--model", str(bundle_copy), "--data", str(MNIST), "--attr", "digit_x"),
        "unknown attribute",
    )
    assert_user_error(
        run_cli("attributes", "calibrate", "--model", str(bundle_copy), "--data", str(tmp_path / "nothing")),
        "nothing",
    )


def test_unreached_attributes_keep_the_scale_with_the_highest_rate() -> None:
    """Codes are decoded as themselves; the judge reads attribute k as present in a window of the edit."""
    from types import SimpleNamespace

    from aaae_cli.evaluation.calibrate import CalibrationSettings, calibrate_scales

    windows = {"peaks": (1.4, 1.6, 1.0), "halfway": (0.9, 1.1, 0.5), "never": (0.0, 0.0, 0.0)}
    names = list(windows)

    class Judge:
        classes = names

        def run(self, images: np.ndarray) -> tuple[np.ndarray, None]:
            x = images[:, 0]
            index = np.arange(len(x))
            columns = [(lo < x) & (x < hi) & (index < share * len(x)) for lo, hi, share in windows.values()]
            return np.stack(columns, 1).astype(float), None

    attributes = {n: SimpleNamespace(direction=np.ones(1, np.float32)) for n in names}
    net = SimpleNamespace(attributes=attributes, decode=lambda codes: codes)
    settings = CalibrationSettings(target=0.8)
    found, skipped = calibrate_scales(net, Judge(), np.zeros((40, 1), np.float32), settings)  # type: ignore[arg-type]
    by_name = {c.name: c for c in found}
    assert not skipped
    assert by_name["peaks"].reached and by_name["peaks"].scale == 1.5 and by_name["peaks"].flip_rate == 1.0
    assert not by_name["halfway"].reached and by_name["halfway"].scale == 1.0 and by_name["halfway"].flip_rate == 0.5
    assert not by_name["never"].reached and by_name["never"].scale == LADDER[0] and by_name["never"].flip_rate == 0.0


def test_calibrate_command_defaults_are_the_settings_defaults() -> None:
    """``aaae attributes calibrate`` builds :class:`CalibrationSettings` from its options, whose defaults must be the
    settings' (the light CLI cannot import the calibration to read them: it loads onnxruntime)."""
    import inspect

    from aaae_cli.cli.attributes import attributes_calibrate
    from aaae_cli.evaluation.calibrate import CalibrationSettings

    option = {name: p.default for name, p in inspect.signature(attributes_calibrate).parameters.items()}
    settings = CalibrationSettings()
    assert tuple(option["attr"] or ()) == settings.names and option["target"] == settings.target
    assert option["images"] == settings.images and option["evaluator"] == settings.evaluator
    assert option["seed"] == settings.seed and option["device"] == settings.device
    assert option["photos"] == settings.photos
