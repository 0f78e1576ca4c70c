"""onnxruntime sessions: provider choice (``auto``, ``cpu``, ``cuda``), quiet logs, batched runs.

``auto`` asks for CUDA only when it can load: the installed onnxruntime offers the CUDA provider *and*
the NVIDIA driver library loads. Even then the session is created with onnxruntime's logger silenced
(a GPU build without a usable CUDA prints errors while it falls back), and the providers it actually
got are checked: ``auto`` quietly keeps the CPU, ``cuda`` is refused with one clear line.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable, Iterator

import numpy as np
import onnxruntime as ort

from aaae_cli.errors import UserError
from aaae_cli.onnx_scan import check_self_contained

DEVICES = ("auto", "cpu", "cuda")
_QUIET, _ERRORS_ONLY = 4, 3

ort.set_default_logger_severity(_ERRORS_ONLY)


@functools.lru_cache(maxsize=1)
def cuda_driver_present() -> bool:
    """Whether the NVIDIA driver library can be loaded (no driver: no CUDA, whatever else is installed)."""
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def cuda_offered() -> bool:
    """Whether this onnxruntime build has the CUDA provider and a driver is present."""
    return "CUDAExecutionProvider" in ort.get_available_providers() and cuda_driver_present()


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise UserError(f"--device {device!r}: use auto, cpu or cuda")
    return device


class Graph:
    """One ONNX graph in an onnxruntime session, run in batches of bounded size."""

    def __init__(
        self, name: str, model: bytes, device: str = "auto", threads: int | None = None, optimize: str = "all"
    ) -> None:
        self.name = name
        self.optimize = optimize
        self.session = create_session(model, device, name, threads, optimize)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise UserError(f"{name}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)
        self.output_shape = list(outputs[0].shape)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def run(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Run on ``x`` (N, ...) in batches of at most ``batch_size``; returns the concatenated outputs."""
        parts = list(self.run_batches(x, batch_size))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def run_batches(self, x: np.ndarray, batch_size: int = 64) -> Iterator[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[0] == 0:
            raise ValueError(f"{self.name}: empty batch")
        for start in range(0, x.shape[0], batch_size):
            yield self.session.run(None, {self.input_name: x[start : start + batch_size]})[0]


OPTIMIZATION = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
}


def create_session(
    model: bytes, device: str = "auto", name: str = "model", threads: int | None = None, optimize: str = "all"
) -> ort.InferenceSession:
    """An InferenceSession for the serialized ``model`` on ``device`` (see the module docstring).

    ``optimize="all"`` adds onnxruntime's layout optimisations: convolutions run about 3x faster on
    large batches, but the session takes about 0.1 s longer to create (paper-width encoder, CPU-2);
    ``"extended"`` is the better choice for a single image.
    """
    check_device(device)
    check_self_contained(model, name)  # before onnxruntime can read a file the graph points at
    check_threads(threads)
    options = ort.SessionOptions()
    options.graph_optimization_level = OPTIMIZATION[optimize]
    options.log_severity_level = _ERRORS_ONLY
    # Worker threads sleep instead of spinning between calls: no CPU burnt between batches, and much
    # less slow-down when other processes share the cores (measured: BENCHMARKS.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    make: Callable[[list[str]], ort.InferenceSession] = lambda providers: ort.InferenceSession(  # noqa: E731
        model, options, providers=providers
    )
    want_cuda = device == "cuda" or (device == "auto" and cuda_offered() and not _cuda_failed())
    if device == "cuda" and not cuda_offered():
        raise UserError(_no_cuda_reason())
    try:
        if not want_cuda:
            return make(["CPUExecutionProvider"])
        ort.set_default_logger_severity(_QUIET)
        try:
            session = make(["CUDAExecutionProvider", "CPUExecutionProvider"])
        finally:
            ort.set_default_logger_severity(_ERRORS_ONLY)
    except UserError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{name}: onnxruntime cannot load this graph ({message[:300]})") from None
    if "CUDAExecutionProvider" not in session.get_providers():
        _mark_cuda_failed()
        if device == "cuda":
            raise UserError("--device cuda: onnxruntime could not start CUDA here (check the CUDA and cuDNN libraries)")
    return session


_CUDA_STATE = {"failed": False}


def _cuda_failed() -> bool:
    return _CUDA_STATE["failed"]


def _mark_cuda_failed() -> None:
    _CUDA_STATE["failed"] = True


def _no_cuda_reason() -> str:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        build = "onnxruntime-gpu" if sys.platform in ("linux", "win32") else "onnxruntime (no CUDA build here)"
        return f"--device cuda: this onnxruntime has no CUDA provider (install {build}); use --device cpu"
    return "--device cuda: no NVIDIA driver found on this machine; use --device cpu"


def available_devices() -> list[str]:
    """Devices that would work here, for ``aaae info``."""
    return ["cpu", "cuda"] if cuda_offered() else ["cpu"]


def max_threads() -> int:
    """The most intra-op threads a session may ask for: far beyond any use, far below exhausting the system."""
    return max(64, 4 * (os.cpu_count() or 1))


def check_threads(threads: int | None, where: str = "threads") -> int | None:
    if threads is not None and not (isinstance(threads, int) and 1 <= threads <= max_threads()):
        raise UserError(f"{where} {threads!r}: give a whole number of threads from 1 to {max_threads()}")
    return threads


def default_threads() -> int | None:
    """``AAAE_THREADS`` if set (onnxruntime's intra-op threads), else onnxruntime's own choice.

    A value that is not a number from 1 to :func:`max_threads` is refused (``AAAE_THREADS=100000`` was
    accepted and handed to onnxruntime; text was silently ignored)."""
    value = os.environ.get("AAAE_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise UserError(f"AAAE_THREADS={value[:20]!r}: give a whole number of threads from 1 to {max_threads()}")
    return check_threads(int(value[:20]), "AAAE_THREADS")
