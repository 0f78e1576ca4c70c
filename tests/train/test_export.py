"""``aaae export``: the decoder's export form, the bundle it writes, and the runs it refuses."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

import aaae_train
from aaae_cli.bundle.folder import Bundle, sha256_file
from aaae_train.checkpoint import load_checkpoint
from aaae_train.export import ExportDecoder
from aaae_train.networks import ArchConfig, build_networks
from tests.conftest import assert_user_error, run_cli

EXPECTED_FILES = {
    "config.json",
    "encoder.onnx",
    "decoder.onnx",
    "approximator.onnx",
    "attributes.json",
    "README.md",
    "sample.png",
    "checksums.sha256",
}


@pytest.mark.parametrize(("resolution", "channels", "width"), [(32, 1, 0.125), (64, 3, 0.125), (128, 3, 0.0625)])
def test_export_decoder_equals_decoder(resolution: int, channels: int, width: float) -> None:
    """The matmul + col2im form computes the same images as the ConvTranspose/BatchNorm decoder."""
    torch.manual_seed(resolution)
    decoder = build_networks(ArchConfig(resolution=resolution, channels=channels, width=width)).decoder
    for module in decoder.modules():  # non-trivial BatchNorm statistics, as after training
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    decoder.eval()
    fast = ExportDecoder(decoder).eval()
    codes = torch.randn(5, 128) * 3
    with torch.no_grad():
        expected, got = decoder(codes), fast(codes)
    assert got.shape == expected.shape == (5, channels, resolution, resolution)
    assert float((got - expected).abs().max()) < 1e-5
    assert float(expected.std()) > 0.05  # a real signal, not two constant images


def test_bundle_layout(tiny_run: Path, tiny_bundle: Path) -> None:
    assert {p.name for p in tiny_bundle.iterdir()} == EXPECTED_FILES
    bundle = Bundle(tiny_bundle)
    assert set(bundle.verify_all()) == EXPECTED_FILES - {"checksums.sha256"}
    manifest = (tiny_bundle / "checksums.sha256").read_text().splitlines()
    assert all(re.fullmatch(r"[0-9a-f]{64}  [\w.]+", line) for line in manifest)
    assert f"{sha256_file(tiny_bundle / 'decoder.onnx')}  decoder.onnx" in manifest

    ckpt = load_checkpoint(tiny_run / "best.pt")
    config = json.loads((tiny_bundle / "config.json").read_text())
    assert config["format"] == "aaae-bundle" and config["format_version"] == 1
    assert (config["resolution"], config["channels"], config["z_dim"], config["c_dim"]) == (32, 1, 64, 128)
    assert config["preprocessing"]["crop"] == 1.0 and config["pixel_range"] == [-1.0, 1.0]
    data = config["training"]["data"]
    assert data["name"] == "mnist" and data["train_images"] == ckpt["data"]["train_images"]
    assert data["train_images"] + data["val_images"] == 500 and data["sources"] == 1
    assert config["metrics"]["val_mse"] == ckpt["state"]["best_val_mse"]
    # The ONNX graphs reproduce the checkpoint's own held-out error.
    assert config["metrics"]["val_mse_onnx"] == pytest.approx(ckpt["state"]["best_val_mse"], rel=1e-3)
    assert all(0 < diff < 1e-4 for diff in config["export"]["max_abs_diff"].values())
    # The sampler's code moments were matched to the training split's codes (aaae_train.moments).
    assert config["export"]["weights"] == "fp32"
    moments = config["export"]["approximator_moments"]
    assert moments["matched_to"] == "training codes" and moments["codes"] == data["train_images"]
    # Attribute directions come from the training split only.
    assert config["attributes"]["names"] == [f"digit_{d}" for d in range(10)]
    attributes = json.loads((tiny_bundle / "attributes.json").read_text())["attributes"]
    assert sum(a["positive"] for a in attributes) == data["train_images"]
    assert all(a["positive"] + a["negative"] == data["train_images"] for a in attributes)
    assert all(a["projection"]["positive"]["mean"] > a["projection"]["negative"]["mean"] for a in attributes)


def test_onnx_graphs_have_a_dynamic_batch_and_no_pickle(tiny_bundle: Path) -> None:
    for name, in_dims, out_dims in (
        ("encoder", [1, 32, 32], [128]),
        ("decoder", [128], [1, 32, 32]),
        ("approximator", [64], [128]),
    ):
        model = onnx.load(str(tiny_bundle / f"{name}.onnx"))
        onnx.checker.check_model(model)
        (graph_in,) = model.graph.input
        (graph_out,) = model.graph.output
        dims_in = [d.dim_value or d.dim_param for d in graph_in.type.tensor_type.shape.dim]
        dims_out = [d.dim_value or d.dim_param for d in graph_out.type.tensor_type.shape.dim]
        assert isinstance(dims_in[0], str) and dims_in[1:] == in_dims, (name, dims_in)
        assert isinstance(dims_out[0], str) and dims_out[1:] == out_dims, (name, dims_out)
        assert not model.graph.initializer or all(not t.external_data for t in model.graph.initializer)
        # The exporter's stack traces named this machine's source paths (/home/you/...): a bundle is published.
        traces = [p for node in model.graph.node for p in node.metadata_props if "stack_trace" in p.key]
        assert traces == [] and str(Path(aaae_train.__file__).parent).encode() not in model.SerializeToString()
    for path in tiny_bundle.iterdir():
        head = path.read_bytes()[:2]
        assert head[:1] != b"\x80", f"{path.name} looks like a pickle"
        if path.suffix in (".json", ".md", ".sha256"):
            path.read_text(encoding="utf-8")  # plain text


def test_model_card(tiny_bundle: Path) -> None:
    card = (tiny_bundle / "README.md").read_text()
    front = card.split("---\n")[1]
    for line in ("library_name: aaae", "- onnx", "- ylecun/mnist", "pipeline_tag: unconditional-image-generation"):
        assert line in front.splitlines(), line
    assert re.search(r"value: 0\.0\d+", front)  # the measured validation MSE
    assert "![Samples from the model](sample.png)" in card and "digit_3" in card
    grid = Image.open(tiny_bundle / "sample.png")
    assert grid.size == (8 * 64 + 9 * 2,) * 2  # 8x8 samples, 32 px shown at 64 px


@pytest.mark.slow
def test_export_refusals(tiny_run: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    assert_user_error(run_cli("export", str(tmp_path / "nope"), str(tmp_path / "b")), "no such run folder")
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert_user_error(run_cli("export", str(empty), str(tmp_path / "b")), "no best.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert_user_error(run_cli("export", str(junk), str(tmp_path / "b")), "not a readable aaae checkpoint")
    # An existing, non-empty bundle is kept unless --force.
    before = {p.name: p.read_bytes() for p in tiny_bundle.iterdir()}
    assert_user_error(run_cli("export", str(tiny_run), str(tiny_bundle)), "not empty", "--force")
    assert {p.name: p.read_bytes() for p in tiny_bundle.iterdir()} == before
    # Training data that moved away: a clear error, and no partial bundle.
    moved = tmp_path / "moved"
    shutil.copytree(tiny_run, moved)
    options = json.loads((moved / "options.json").read_text())
    ckpt = load_checkpoint(moved / "best.pt")
    ckpt["options"]["data"] = [str(tmp_path / "gone")]
    ckpt.pop("format"), ckpt.pop("version")
    from aaae_train.checkpoint import save_checkpoint

    save_checkpoint(ckpt, moved / "best.pt")
    assert options["data"]  # untouched run options
    result = run_cli("export", str(moved), str(tmp_path / "b"))
    assert_user_error(result, "training data", "not found", "--data")
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*"))


@pytest.mark.slow
def test_export_with_moved_data_and_force(tiny_run: Path, bundle_copy: Path, tmp_path: Path) -> None:
    """--data points at the data; --force replaces a bundle; the result is the same model."""
    from tests.conftest import MNIST

    out = bundle_copy
    (out / "sample.png").unlink()
    (out / "old.png").write_bytes(b"replaced")  # a file of an older bundle: gone once the new one is in
    result = run_cli(
        "export", str(tiny_run), str(out), "--force", "--data", str(MNIST), "--name", "digits-tiny", "--device", "cpu"
    )
    assert result.returncode == 0, result.stderr
    assert not (out / "old.png").exists() and (out / "sample.png").is_file()
    assert [p.name for p in out.parent.iterdir()] == [out.name], "the old bundle or a temporary was left beside it"
    config = json.loads((out / "config.json").read_text())
    assert config["name"] == "digits-tiny" and config["attributes"]["count"] == 10
    codes = np.asarray(json.loads((out / "attributes.json").read_text())["attributes"][3]["direction"])
    assert codes.shape == (128,) and np.linalg.norm(codes) > 0.1


@pytest.mark.slow
def test_export_no_match_moments_keeps_the_approximator_as_trained(tiny_run: Path, tmp_path: Path) -> None:
    from aaae_cli.runtime import Graph
    from aaae_train.checkpoint import load_networks

    out = tmp_path / "plain"
    result = run_cli("export", str(tiny_run), str(out), "--no-match-moments", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert "approximator_moments" not in config["export"]
    _, _, approximator = load_networks(load_checkpoint(tiny_run / "best.pt"))
    z = np.random.default_rng(0).standard_normal((64, config["z_dim"])).astype(np.float32)
    with torch.no_grad():
        trained = approximator(torch.from_numpy(z)).numpy()
    exported = Graph("approximator", Bundle(out).graph_bytes("approximator"), "cpu").run(z)
    np.testing.assert_allclose(exported, trained, atol=1e-4)


@pytest.mark.slow
def test_export_fp16_weights_halve_the_graphs(tiny_run: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    import aaae_cli

    out = tmp_path / "half"
    result = run_cli("export", str(tiny_run), str(out), "--weights", "fp16", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    full_config = json.loads((tiny_bundle / "config.json").read_text())
    assert config["export"]["weights"] == "fp16"
    for graph in ("encoder.onnx", "decoder.onnx", "approximator.onnx"):
        assert (out / graph).stat().st_size < 0.7 * (tiny_bundle / graph).stat().st_size, graph
        assert any(node.op_type == "Cast" for node in onnx.load(str(out / graph)).graph.node)
    # The same model to float16's precision: held-out error and samples as the float32 bundle's.
    assert config["metrics"]["val_mse_onnx"] == pytest.approx(full_config["metrics"]["val_mse_onnx"], rel=0.02)
    half, full = aaae_cli.load(out, device="cpu"), aaae_cli.load(tiny_bundle, device="cpu")
    assert np.abs(half.sample(16, seed=1).astype(int) - full.sample(16, seed=1)).mean() < 1.0
    assert_user_error(run_cli("export", str(tiny_run), str(tmp_path / "x"), "--weights", "fp8"), "--weights")


def test_export_force_never_replaces_the_current_folder_the_run_or_a_non_bundle(
    tiny_run: Path, bundle_copy: Path, tmp_path: Path
) -> None:
    """Issue #13 item 3: ``export RUN . --force`` deleted everything in the current folder, ``export RUN RUN
    --force`` replaced the run by the bundle. --force replaces only a bundle, and nothing is touched first."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.txt").write_text("years of work")
    before_run = sorted(p.name for p in run.iterdir())
    assert_user_error(run_cli("export", str(run), ".", "--force", cwd=work), "current folder")
    assert (work / "thesis.txt").read_text() == "years of work"
    assert_user_error(run_cli("export", str(run), str(run), "--force"), "which this command reads")
    assert sorted(p.name for p in run.iterdir()) == before_run
    (bundle_copy / "notes.txt").write_text("mine")  # a bundle folder the user also keeps a file in
    assert_user_error(run_cli("export", str(run), str(bundle_copy), "--force"), "notes.txt", "not part of a bundle")
    assert (bundle_copy / "notes.txt").is_file() and (bundle_copy / "decoder.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits", "run", "work"], "a temporary was left"


def test_replaceable_bundle_checks(tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aaae_cli.bundle.swap import check_replaceable
    from aaae_cli.errors import UserError

    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "b"))
    check_replaceable(bundle)  # a plain bundle may be replaced
    for target, message in [(Path("/"), "root folder"), (Path.home(), "home folder"), (tmp_path, "current folder")]:
        monkeypatch.chdir(bundle if target == tmp_path else tmp_path)
        with pytest.raises(UserError, match=message):
            check_replaceable(target)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="which this command reads"):
        check_replaceable(bundle, [bundle / "best.pt"])
    link = tmp_path / "link"
    link.symlink_to(bundle)
    with pytest.raises(UserError, match="symbolic link"):
        check_replaceable(link)
    (bundle / "extra").mkdir()
    with pytest.raises(UserError, match="not part of a bundle"):
        check_replaceable(bundle)
    (bundle / "config.json").write_text("[]")
    with pytest.raises(UserError, match="not an aaae bundle"):
        check_replaceable(bundle)


def test_a_float32_bundle_is_stored_in_fp16_in_place(bundle_copy: Path, tiny_bundle: Path) -> None:
    """The shipped faces has no checkpoint left to export again: its graphs are halved where they are, checked
    against their float32 selves, and everything measured on them is kept."""
    import aaae_cli
    from aaae_train.half_weights import store_bundle_weights_fp16

    diffs = store_bundle_weights_fp16(bundle_copy)
    assert set(diffs) == {"encoder", "decoder", "approximator"} and max(diffs.values()) > 0
    half, full = Bundle(bundle_copy), Bundle(tiny_bundle)
    assert half.verify_all() and half.config.export["weights"] == "fp16"
    assert half.config.export["weights_fp16"]["max_abs_diff_from_fp32"] == diffs
    assert half.config.export["max_abs_diff"] == full.config.export["max_abs_diff"]  # the export's own check kept
    for graph in ("encoder.onnx", "decoder.onnx", "approximator.onnx"):
        assert (bundle_copy / graph).stat().st_size < 0.7 * (tiny_bundle / graph).stat().st_size, graph
    assert half.read("attributes.json") == full.read("attributes.json")
    small, large = aaae_cli.load(bundle_copy, device="cpu"), aaae_cli.load(tiny_bundle, device="cpu")
    assert np.abs(small.sample(16, seed=1).astype(int) - large.sample(16, seed=1)).mean() < 1.0
    with pytest.raises(aaae_cli.UserError, match="already"):
        store_bundle_weights_fp16(bundle_copy)
