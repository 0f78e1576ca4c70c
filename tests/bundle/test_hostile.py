"""Hostile bundles (issue #13, items 1 and 10): the manifest verifies, the content attacks. Every one must end in
one ``error:`` line before onnxruntime or the commands act on it, and nothing from outside the bundle may be read."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from aaae_cli.errors import UserError
from aaae_cli.utils.onnx_scan import check_self_contained
from tests import hostile
from tests.conftest import REPO, assert_user_error, run_cli


@pytest.mark.parametrize("attack", sorted(hostile.ONNX_ATTACKS))
def test_external_data_tensors_are_refused_before_a_session(
    bundle_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attack: str
) -> None:
    hostile.make_external_data_bundle(bundle_copy, attack)
    work = tmp_path / "work"
    work.mkdir()
    (work / "secret.bin").write_bytes(hostile.SECRET)
    graph = (bundle_copy / "decoder.onnx").read_bytes()
    # The fixture is a real attack: onnxruntime reads the user's file from the current folder (it cannot
    # load the graph without it), at least when graph optimisations do not fail on it first.
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    monkeypatch.chdir(work)
    ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    (work / "secret.bin").unlink()
    with pytest.raises(Exception, match=r"secret\.bin"):
        ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    (work / "secret.bin").write_bytes(hostile.SECRET)
    monkeypatch.undo()
    with pytest.raises(UserError, match="external file"):
        check_self_contained(graph, "decoder")
    out = work / "out.png"
    result = run_cli("sample", "-n", "1", str(out), "--seed", "0", "--model", str(bundle_copy), cwd=work)
    assert_user_error(result, "decoder.onnx", "stored in an external file")
    assert not out.exists()


def test_info_does_not_call_a_graph_with_external_data_verified(bundle_copy: Path, tmp_path: Path) -> None:
    hostile.make_external_data_bundle(bundle_copy, "initializer", location=".cache/huggingface/token")
    assert_user_error(run_cli("info", "--model", str(bundle_copy), cwd=tmp_path), "external file")


def test_a_graph_saved_with_external_data_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    model = onnx.load(str(tiny_bundle / "encoder.onnx"))
    onnx.save_model(model, str(tmp_path / "e.onnx"), save_as_external_data=True, size_threshold=0)
    with pytest.raises(UserError, match="external file"):
        check_self_contained((tmp_path / "e.onnx").read_bytes(), "encoder")
    check_self_contained((tiny_bundle / "encoder.onnx").read_bytes(), "encoder")  # the real one passes


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x3a\x05abc", b"\x0a"])
def test_a_graph_that_is_not_protobuf_is_refused(data: bytes) -> None:
    with pytest.raises(UserError, match="not a well-formed ONNX graph"):
        check_self_contained(data, "decoder")


# ---------------------------------------------------------------- item 10: hostile config.json / attributes.json

DIGITS = REPO / "models" / "digits"


@pytest.fixture
def digits_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped digits bundle (no training needed)."""
    return Path(shutil.copytree(DIGITS, tmp_path / "digits"))


def _set(path: str, value: object):
    def edit(data: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        data[last] = value

    return edit


CONFIG_CASES = {
    "resolution_null": _set("resolution", None),
    "channels_text": _set("preprocessing.channels", "three"),
    "crop_list": _set("preprocessing.crop", [1]),
    "metrics_list": _set("metrics", [1, 2]),
    "metric_value_list": _set("metrics.val_mse", [0.1]),
    "training_text": _set("training", "lots"),
    "training_data_number": _set("training.data", 5),
    "card_evaluation_rows_number": _set("card.evaluation.rows", 3),
    "export_list": _set("export", []),
    "graph_spec_text": _set("graphs.decoder", "decoder.onnx"),
    "z_dim_huge": _set("z_dim", 10**15),
    "huge_number": '{"format": "aaae-bundle", "format_version": 1e999}',
    "nan": '{"format": "aaae-bundle", "format_version": NaN}',
    "huge_integer": '{"format": "aaae-bundle", "format_version": ' + "9" * 5000 + "}",
    "deep": '{"format": "aaae-bundle", "x": ' + hostile.deep(200_000) + "}",
    "too_large": '{"format": "aaae-bundle", "pad": "' + "x" * (2 << 20) + '"}',
    "not_utf8": b'{"name": "\xff\xfe"}'.decode("latin-1"),
}
ATTRIBUTE_CASES = {
    "scale_infinite": '{"format": "aaae-attributes", "format_version": 1, "attributes": [{"scale": 1e999}]}',
    "direction_text": _set("attributes", [{"name": "a", "positive": 1, "negative": 1, "direction": "up"}]),
    "attributes_object": _set("attributes", {"a": 1}),
    "format_version_infinite": '{"format": "aaae-attributes", "format_version": -1e999, "attributes": []}',
    "deep": hostile.deep(200_000),
    "projection_null_mean": _set("attributes.0.projection.positive.mean", "x"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_hostile_config_is_one_error(digits_copy: Path, case: str) -> None:
    from aaae_cli.api import load

    hostile.rewrite_json(digits_copy, "config.json", CONFIG_CASES[case])
    with pytest.raises(UserError) as caught:
        model = load(str(digits_copy))
        model.sample(1, seed=0)
    assert "config.json" in str(caught.value)


@pytest.mark.parametrize("case", sorted(ATTRIBUTE_CASES))
def test_hostile_attributes_are_one_error(digits_copy: Path, case: str) -> None:
    from aaae_cli.api import load

    hostile.rewrite_json(digits_copy, "attributes.json", ATTRIBUTE_CASES[case])
    with pytest.raises(UserError, match=r"attributes\.json"):
        load(str(digits_copy)).attributes  # noqa: B018


def test_hostile_bundle_json_through_the_commands(digits_copy: Path, tmp_path: Path) -> None:
    """What a user meets: ``info`` on 200,000-deep nesting, ``edit`` with an infinite scale, ``info`` with
    ``metrics`` as a list; one line each, nothing written."""
    config = (digits_copy / "config.json").read_text()
    hostile.rewrite_json(digits_copy, "config.json", '{"format": "aaae-bundle", "x": ' + hostile.deep(200_000) + "}")
    assert_user_error(run_cli("info", "--model", str(digits_copy)), "config.json", "nested more than")
    hostile.rewrite_json(digits_copy, "config.json", config)
    hostile.rewrite_json(digits_copy, "config.json", _set("metrics", ["a", "b"]))
    assert_user_error(run_cli("info", "--model", str(digits_copy)), "config.json", "metrics should be an object")
    hostile.rewrite_json(digits_copy, "config.json", config)
    text = (digits_copy / "attributes.json").read_text()
    hostile.rewrite_json(digits_copy, "attributes.json", text.replace('"scale": 1.0', '"scale": 1e999', 1))
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    out = tmp_path / "out.png"
    result = run_cli("edit", str(image), "--attr", "digit_1", "-o", str(out), "--model", str(digits_copy))
    assert_user_error(result, "attributes.json", "too large a number")
    assert not out.exists()


def test_a_hostile_evaluator_card_is_one_error(tmp_path: Path) -> None:
    """The evaluator card (``aaae eval --evaluator DIR``) is read with the same bounds as a bundle's JSON."""
    from tests.conftest import MNIST

    evaluator = Path(shutil.copytree(DIGITS.parent / "evaluator-digits", tmp_path / "judge"))
    (evaluator / "evaluator.json").write_text(hostile.deep(200_000))
    result = run_cli("eval", "--model", "digits", "--data", str(MNIST), "-n", "2", "--evaluator", str(evaluator))
    assert_user_error(result, "evaluator.json", "nested more than")


# ---------------------------------------------------------------- issue 23: hostile graphs (items 5, 6 and 13)

GRAPH_CASES = {  # attack: what the one error line says
    "loop": "control flow (Loop)",
    "custom_domain": "of domain 'com.microsoft' is not standard ONNX",
    "allocate": "onnxruntime failed running this graph (Non-zero status code returned while running ConstantOfShape",
    "nan": "returned NaN or infinite values",
    "first_row_only": "returned an output of shape (1, 1, 32, 32) for a batch of 4",
    "fixed_batch": "declares a fixed batch of 2",
    "bool_output": "declared as tensor(bool), not a float tensor",
    "string_output": "declared as tensor(string), not a float tensor",
}


@pytest.mark.parametrize("attack", sorted(GRAPH_CASES))
def test_a_hostile_decoder_is_one_error_and_no_sample(digits_copy: Path, tmp_path: Path, attack: str) -> None:
    """A verified bundle whose decoder runs for ever, allocates terabytes, or returns NaN, the wrong batch or
    bools and strings: one ``error:`` line naming it, nothing written (tracebacks, a hang, or a NaN sample before)."""
    hostile.make_hostile_graph_bundle(digits_copy, attack)
    out = tmp_path / "out.png"
    result = run_cli("sample", "-n", "4", str(out), "--seed", "0", "--model", str(digits_copy), timeout=120)
    assert_user_error(result, "decoder", GRAPH_CASES[attack])
    assert not out.exists()


@pytest.mark.parametrize(("graph", "attack"), [("decoder", "allocate"), ("encoder", "nan"), ("encoder", "bool_output")])
def test_hostile_graphs_in_reconstruct_and_edit(digits_copy: Path, tmp_path: Path, graph: str, attack: str) -> None:
    hostile.make_hostile_graph_bundle(digits_copy, attack, graph=graph)
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    out = tmp_path / "out.png"
    m = ["--model", str(digits_copy)]
    assert_user_error(run_cli("reconstruct", str(image), "-o", str(out), *m), graph, GRAPH_CASES[attack])
    assert_user_error(run_cli("edit", str(image), "--attr", "digit_1", "-o", str(out), *m), graph, GRAPH_CASES[attack])
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_command_while_onnxruntime_runs(digits_copy: Path, tmp_path: Path, signum: int) -> None:
    """SIGTERM and Ctrl-C were handled only once onnxruntime's ``run`` returned (a hostile decoder of minutes of
    matrix products, or a Loop: 43 minutes until SIGKILL). Now the command ends within seconds, exit 130."""
    graph = onnx.load(str(digits_copy / "decoder.onnx"))
    hostile.slow(graph)  # about 7 TFLOP in 400 products of 2048-sided matrices (1536-sided ones ended within 6 s here)
    (digits_copy / "decoder.onnx").write_bytes(graph.SerializeToString())
    hostile.write_manifest(digits_copy)
    out = tmp_path / "out.png"
    command = [sys.executable, "-m", "aaae_cli", "sample", "-n", "1", str(out), "--model", str(digits_copy)]
    # As from a terminal: a suite started in the background (`nohup pytest &`) hands its children SIGINT ignored,
    # and a Python that starts so keeps ignoring Ctrl-C, as it should.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(6)  # the model loads in about 2 s (CPU-2): by now onnxruntime runs the decoder
        assert process.poll() is None, process.communicate()
        process.send_signal(signum)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert time.monotonic() - sent < 25, "the command ran on after the signal"  # one operator + 10 s of grace
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert not out.exists()


@pytest.mark.parametrize(("attack", "fragment"), [("nan", "returned NaN"), ("bool_output", "tensor(bool)")])
def test_a_hostile_evaluator_graph_is_one_error(tmp_path: Path, attack: str, fragment: str) -> None:
    """``--evaluator DIR`` is a graph from outside too: its declared outputs and returned values are checked."""
    from tests.conftest import MNIST

    evaluator = Path(shutil.copytree(DIGITS.parent / "evaluator-digits", tmp_path / "judge"))
    graph = onnx.load(str(evaluator / "evaluator.onnx"))
    hostile.GRAPH_ATTACKS[attack](graph)
    (evaluator / "evaluator.onnx").write_bytes(graph.SerializeToString())
    result = run_cli("eval", "--model", "digits", "--data", str(MNIST), "-n", "2", "--evaluator", str(evaluator))
    assert_user_error(result, "evaluator judge", fragment)
