"""onnxruntime sessions: provider choice (``auto``, ``cpu``, ``cuda``), quiet logs, batched runs.

``auto`` asks for CUDA only when it can load: the installed onnxruntime offers the CUDA provider *and*
the NVIDIA driver library loads. Even then the session is created with onnxruntime's logger silenced
(a GPU build without a usable CUDA prints errors while it falls back), and the providers it actually
got are checked: ``auto`` quietly keeps the CPU, ``cuda`` is refused with one clear line.

A bundle's graphs are not trusted (issue 23): what a graph declares is checked when it is loaded (one float
input and output, the batch left free), what it returns is checked on every call (a float32 array of the
batch's rows and the declared shape, no NaN or infinity), and an error inside onnxruntime's ``run`` (a graph
that asks for terabytes) is one line. :func:`run_session` runs a graph in a worker thread, so that Ctrl-C and
SIGTERM, which Python handles only in the main thread and only between bytecodes, end a command while
onnxruntime runs: the main thread waits, the signal's ``KeyboardInterrupt`` sets ``RunOptions.terminate``, and
onnxruntime stops before its next operator.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from aaae_cli.errors import UserError
from aaae_cli.utils.interrupts import native_call
from aaae_cli.utils.onnx_scan import check_self_contained

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
        self.input_shape = check_declared(inputs[0], name, "input")
        self.output_shape = check_declared(outputs[0], name, "output")

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def run(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Run on ``x`` (N, ...) in batches of at most ``batch_size``; returns the concatenated outputs."""
        parts = list(self.run_batches(x, batch_size))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def run_batches(self, x: np.ndarray, batch_size: int = 64) -> Iterator[np.ndarray]:
        """The outputs for ``x`` a batch at a time, each checked (:func:`check_returned`)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[0] == 0:
            raise ValueError(f"{self.name}: empty batch")
        for start in range(0, x.shape[0], batch_size):
            batch = x[start : start + batch_size]
            (output,) = run_session(self.session, {self.input_name: batch}, self.name)
            yield check_returned(output, len(batch), self.output_shape, self.name)


# ---------------------------------------------------------------- what a graph declares, and returns


def check_declared(arg: Any, name: str, what: str) -> list[int | str | None]:
    """The declared shape of a graph's input or output ``arg`` (an onnxruntime ``NodeArg``), refused unless it
    is a float tensor of at least one dimension whose first (the batch) is left free: aaae feeds and reads
    float32 batches of any size (a bool, string or fixed-batch output gave tracebacks, issue 23)."""
    label = f"{name}: {what} {str(arg.name)[:80]!r}"
    if arg.type != "tensor(float)":
        raise UserError(f"{label} is declared as {str(arg.type)[:40]}, not a float tensor; refusing to load it")
    shape = list(arg.shape or [])
    if not shape:
        raise UserError(f"{label} declares no dimensions (a batch of images or codes has some); refusing to load it")
    if isinstance(shape[0], int):
        raise UserError(f"{label} declares a fixed batch of {shape[0]} (aaae runs batches of any size); refusing it")
    return shape


def check_returned(value: Any, rows: int, declared: Sequence[int | str | None], name: str) -> np.ndarray:
    """``value`` if it is what the graph declared for a batch of ``rows``: float32, the declared rank, ``rows``
    rows, the declared fixed dimensions, and finite. Else one error line: a decoder that returned NaN wrote a
    sample (issue 23)."""
    if not isinstance(value, np.ndarray) or value.dtype != np.float32:
        kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise UserError(f"{name}: returned {kind} values instead of float32; the graph is broken")
    fixed = [d if isinstance(d, int) else None for d in declared]
    expected = [rows, *fixed[1:]]
    if value.ndim != len(expected) or any(e is not None and e != v for e, v in zip(expected, value.shape, strict=True)):
        raise UserError(
            f"{name}: returned an output of shape {value.shape} for a batch of {rows} (declared "
            f"{tuple(declared)}); the graph is broken"
        )
    if not np.isfinite(value).all():
        raise UserError(f"{name}: returned NaN or infinite values; refusing to use them")
    return value


# ---------------------------------------------------------------- running, interruptibly

# After Ctrl-C or SIGTERM, how long to wait for onnxruntime to stop at its next operator (one operator of a
# hostile graph may take longer; the command ends anyway, the worker thread is a daemon).
STOP_WAIT_S = 10.0


def run_session(session: Any, feeds: dict[str, np.ndarray], name: str) -> list[Any]:
    """``session.run(None, feeds)``, ended by Ctrl-C and SIGTERM (see the module docstring), its errors one line.

    In the main thread the graph runs in a worker thread that the main thread waits for; other threads (the
    studio's) receive no signals and run it themselves. A worker still in onnxruntime after :data:`STOP_WAIT_S`
    is counted by :func:`aaae_cli.utils.interrupts.native_call`, so that the CLI ends without waiting for it."""
    options = ort.RunOptions()
    options.log_severity_level = _QUIET  # its error is reported once, below, not also by onnxruntime's logger
    if threading.current_thread() is not threading.main_thread():
        return _run(session, feeds, options, name)
    result: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            with native_call():
                result["outputs"] = _run(session, feeds, options, name)
        except BaseException as exc:  # handed to the main thread
            result["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="onnxruntime run", daemon=True).start()
    try:
        # An Event, not Thread.join: a KeyboardInterrupt inside join() can mark a running thread as ended
        # (Python < 3.13). A timed wait: Ctrl-C and SIGTERM interrupt it everywhere, Windows included.
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        options.terminate = True
        done.wait(STOP_WAIT_S)
        raise
    if "error" in result:
        raise result["error"]
    return result["outputs"]


def _run(session: Any, feeds: dict[str, np.ndarray], options: Any, name: str) -> list[Any]:
    try:
        return session.run(None, feeds, options)
    except Exception as exc:  # onnxruntime's own exception types: a graph that fails, allocates terabytes, ...
        raise UserError(f"{name}: onnxruntime failed running this graph ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    """onnxruntime's message on one line, without its error code and C++ source locations."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"\S+\.(?:cc|cpp|h):\d+ [^()]*\([^()]*\) ", "", text)
    return text[:300]


OPTIMIZATION = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
}


def create_session(
    model: bytes, device: str = "auto", name: str = "model", threads: int | None = None, optimize: str = "all"
) -> ort.InferenceSession:
    """An InferenceSession for the serialized ``model`` on ``device`` (see the module docstring).

    ``optimize="all"`` adds onnxruntime's layout optimisations: convolutions run several times faster
    on large batches, but the session takes longer to create (BENCHMARKS.md, "Inference speed");
    ``"extended"`` is the better choice for a single image.
    """
    check_device(device)
    check_self_contained(model, name)  # before onnxruntime can read a file the graph points at
    check_threads(threads)
    options = ort.SessionOptions()
    options.graph_optimization_level = OPTIMIZATION[optimize]
    options.log_severity_level = _ERRORS_ONLY
    # Worker threads sleep instead of spinning between calls: no CPU burnt between batches, and much
    # less slow-down when other processes share the cores (BENCHMARKS.md, "Inference speed").
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
