"""The run folder (``--out``): options, metrics, grids and checkpoints of one training run.

runs/NAME/
  options.json          every option of the latest invocation (resolved)
  metrics.jsonl         one JSON object per log line (training losses, validation, img/s)
  samples-TTTTTTT.png   approximator samples at update TTTTTTT (fixed noise)
  reconstructions-TTTTTTT.png   held-out images (left) and their reconstructions (right)
  last.pt               the latest checkpoint (resume from here)
  best.pt               the model to export: best validation reconstruction so far
  .aaae-train.lock      held (flock) by the one ``aaae train`` working in the folder

Two ``aaae train`` on one ``--out`` would interleave ``metrics.jsonl`` and delete each other's in-flight
temporary files, so the first one locks the folder and a second one is refused with one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import IO, Any

from aaae_cli.errors import UserError
from aaae_cli.utils.atomic import atomic_write_text
from aaae_train.options import TrainOptions

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; runs are not locked
    fcntl = None  # type: ignore[assignment]

LOCK = ".aaae-train.lock"


class RunFolder:
    """Paths and bookkeeping of one run folder; only rank 0 writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.options = path / "options.json"
        self.metrics = path / "metrics.jsonl"
        self.last = path / "last.pt"
        self.best = path / "best.pt"
        self.lock_file = path / LOCK
        self._lock: IO | None = None
        self._created: list[Path] = []

    def grid(self, kind: str, tick: int) -> Path:
        return self.path / f"{kind}-{tick:07d}.png"

    def check_compatible(self, opts: TrainOptions) -> bool:
        """Raise if the folder holds a run made with other options; True if there is one to resume."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path}: exists and is not a folder")
        if not self.options.is_file():
            if self.path.is_dir() and any(p.name != LOCK for p in self.path.iterdir()):
                raise UserError(f"{self.path}: folder is not empty and holds no aaae run; choose another --out")
            return False
        try:
            saved = json.loads(self.options.read_text(encoding="utf-8"))
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
            previous = TrainOptions.from_dict(saved)
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(f"{self.options}: unreadable ({exc}); choose another --out") from None
        differences = previous.differences(opts)
        if differences:
            shown = "; ".join(differences[:3]) + ("; ..." if len(differences) > 3 else "")
            raise UserError(
                f"{self.path} was made with other options ({shown}): rerun with the same options to resume, "
                "or choose another --out"
            )
        return self.last.is_file()

    def lock(self) -> None:
        """Hold the folder's lock until this process ends; :class:`UserError` if another process holds it."""
        if fcntl is None or self._lock is not None:
            return
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path}: exists and is not a folder")
        self._created = [p for p in (self.path, self.lock_file) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.lock_file, "a+", encoding="utf-8")  # noqa: SIM115 (held for the whole run)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot use this folder ({exc.strerror or exc})") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()[:20]
            handle.close()
            raise UserError(
                f"{self.path} is in use by another 'aaae train'"
                + (f" (process {holder})" if holder.isdigit() else "")
                + "; wait for it to finish, stop it, or choose another --out"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def unlock_and_tidy(self) -> None:
        """Release the lock and remove the lock file and folder if :meth:`lock` made them (a refused run
        leaves the user's folder as it was)."""
        if self._lock is None:
            return
        for path in reversed(self._created):
            with contextlib.suppress(OSError):  # a folder that holds anything else stays
                path.unlink() if path == self.lock_file else path.rmdir()
        self._lock.close()
        self._lock = None

    def write_options(self, opts: TrainOptions) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        opts.save(self.options)

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete half-written files (``.NAME.XXXX.tmp``) left by a process killed mid-write.

        Writes go to such a temporary file and are renamed into place when complete, so a leftover one is
        never the only copy of anything; it is removed when the run is resumed.
        """
        stale = sorted(self.path.glob(".*.tmp")) if self.path.is_dir() else []
        for path in stale:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return stale

    def log(self, record: dict[str, Any]) -> None:
        with open(self.metrics, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate_metrics(self, step: int, approx_step: int) -> None:
        """Drop log lines written after the checkpoint we resume from (they will be written again)."""
        if not self.metrics.is_file():
            return
        kept = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                at = (int(record.get("step", 0)), int(record.get("approx_step", 0)))
            except (ValueError, TypeError, AttributeError):
                continue  # a line cut short by a crash, or damaged: dropped
            if at <= (step, approx_step):
                kept.append(line)
        atomic_write_text(self.metrics, "".join(line + "\n" for line in kept))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a run's ``metrics.jsonl``."""
    records = []
    for line in (path / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
