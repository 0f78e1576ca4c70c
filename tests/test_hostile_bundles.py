"""Hostile bundles (issue #13, items 1 and 10): the manifest verifies, the content attacks. Every one must end in
one ``error:`` line before onnxruntime or the commands act on it, and nothing from outside the bundle may be read."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from aaae_cli.errors import UserError
from aaae_cli.onnx_scan import check_self_contained
from tests import hostile
from tests.conftest import assert_user_error, run_cli


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
