"""The training loop behind ``aaae train``: the two phases in order, snapshots, early stopping, exact resume.

:meth:`Trainer.run` is two phases, one loop each:

1. the autoencoder phase (:meth:`Trainer._autoencoder_phase`): the encoder, decoder and patch discriminator, over
   epochs and batches, until the steps are done or validation stops improving. Under the ``joint`` schedule this is
   all of Algorithm 1 as written (each iteration also runs ``approx_k`` rounds of D_gamma/G_phi on that batch's
   detached codes) and the run ends here; under ``staged`` (the default, as the paper trains in practice) the run
   goes back to the best autoencoder, frozen from here on;
2. the approximator phase (:meth:`Trainer._approximator_phase`, staged schedule): the approximator and the latent
   critic on the frozen encoder's codes.

Every ``snapshot_every`` updates rank 0 measures and decides (validation error, which picks the best weights and
stops early; the latent Frechet distance), then writes (grids, metrics, ``best.pt`` when validation improved and
then ``last.pt``, in that order, so a kill at any moment leaves a run that resumes). The checkpoint dict is made
and read in :mod:`aaae_train.checkpoint`. Running the same command again resumes exactly: the data order is a
function of (seed, epoch), the noise generator's state is in the checkpoint, and so are all optimiser states.
"""

from __future__ import annotations

import math
import shutil
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler

from aaae_cli.data.archive import read_manifest
from aaae_cli.data.sources import detect_source
from aaae_cli.errors import UserError
from aaae_cli.images import save_png
from aaae_cli.utils.atomic import atomic_open
from aaae_cli.utils.progress import SILENT, Progress, Task, or_silent
from aaae_train import snapshots
from aaae_train.algorithm import AAAETraining
from aaae_train.checkpoint import (
    TrainState,
    adopt_autoencoder,
    data_record,
    load_checkpoint,
    read_autoencoder_source,
    restore_autoencoder,
    restore_training,
    save_checkpoint,
    training_checkpoint,
)
from aaae_train.data import Dataset, Preprocessing, default_cache_dir, load_dataset
from aaae_train.distributed import DistInfo, barrier, broadcast, init_distributed, pick_device, shutdown
from aaae_train.networks import build_networks
from aaae_train.options import TrainOptions
from aaae_train.run_folder import RunFolder


@dataclass
class TrainResult:
    run: Path
    state: TrainState
    interrupted: bool = False
    skipped_files: int = 0
    main_process: bool = True


class StopRequest:
    """SIGINT/SIGTERM ask the loop to save a checkpoint and stop; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[None]:
        def handler(signum: int, frame: Any) -> None:
            if self.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.requested = True

        try:
            previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave the handlers alone
            yield
            return
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def train(opts: TrainOptions, report: Progress | None = None) -> TrainResult:
    """Train (or resume) the run in ``opts.out``. Under ``torchrun``, every process calls this; only the first
    tells ``report`` what it does (messages; the decoding and training bars unless ``opts.progress`` is off)."""
    dist = init_distributed(opts.device)
    try:
        return Trainer(opts, dist, or_silent(report) if dist.is_main else SILENT).run()
    finally:
        shutdown(dist)


# Two to train on (batch normalisation needs two images in a batch) and one held out: measured, 2 images fail
# in BatchNorm, 3, 10 and 60 train and export.
MIN_IMAGES = 3


class Trainer:
    """One invocation of a training run (one process of it under torchrun)."""

    def __init__(self, opts: TrainOptions, dist: DistInfo, report: Progress) -> None:
        self.folder = RunFolder(opts.out)
        try:
            self._start(opts, dist, report)
        except BaseException:
            if not self.folder.options.exists():  # refused before the run began: leave no folder behind
                self.folder.unlock_and_tidy()
            raise

    def _start(self, opts: TrainOptions, dist: DistInfo, report: Progress) -> None:
        self.dist = dist
        self.report = report  # messages
        self.bars = report if opts.progress else SILENT  # decoding and training bars
        sources = [detect_source(path, opts.dataset, opts.labels) for path in opts.data]
        archives = [s for s in sources if s.kind == "archive"]
        prepared = read_manifest(archives[0].path)["preprocessing"] if archives else None
        self.opts = opts.resolve([s.kind for s in sources], prepared)
        self.sources = sources
        self.device = pick_device(opts.device, dist)
        if dist.is_main:  # before the folder is read or written: a second 'aaae train' here gets one line
            self.folder.lock()
        resuming = self.folder.check_compatible(opts)
        # --autoencoder-from is read and checked before the data is decoded and the networks are built (seconds)
        taken = None
        if opts.autoencoder_from and not resuming:
            taken = read_autoencoder_source(opts.autoencoder_from, self.opts, self.device)
        barrier(dist)
        self.dataset = self._load_data()
        if len(self.dataset) < MIN_IMAGES:
            raise UserError(
                f"only {len(self.dataset)} readable image{'s' if len(self.dataset) > 1 else ''}: training needs "
                f"at least {MIN_IMAGES} (two to learn from, one held out to measure it)"
            )
        self.train_idx, self.val_idx = self.dataset.split(opts.val_fraction)
        if len(self.val_idx) == 0:
            raise UserError(
                f"only {len(self.dataset)} images: none falls in the {opts.val_fraction:.0%} validation split; "
                "add images or raise --val-fraction"
            )
        per_rank = len(self.train_idx) // dist.world_size
        if per_rank < 2:  # batch normalisation needs two images in a batch
            raise UserError(
                f"{len(self.train_idx)} training images{f' for {dist.world_size} processes' if dist.enabled else ''}"
                f" ({len(self.val_idx)} held out): training needs at least 2 per batch; add images"
            )
        # A small folder (what a first-time user tries) trains in batches of all its images rather than failing.
        self.batch_size = min(opts.batch_size, per_rank)
        if self.batch_size < opts.batch_size and dist.is_main:
            report.message(
                f"note: {per_rank} training images{' per process' if dist.enabled else ''}: "
                f"batches of {self.batch_size} instead of {opts.batch_size}"
            )
        self.steps_per_epoch = per_rank // self.batch_size
        self.total_steps = opts.epochs * self.steps_per_epoch
        if opts.max_steps is not None:
            self.total_steps = min(self.total_steps, opts.max_steps)
        self.data_record = data_record(
            self.opts,
            sources,
            self.dataset.attributes,
            train_images=len(self.train_idx),
            val_images=len(self.val_idx),
        )
        torch.manual_seed(opts.seed)
        self.model = AAAETraining(build_networks(opts.arch()), opts, self.device, dist)
        self.state = TrainState()
        if resuming:
            self.state = restore_training(load_checkpoint(self.folder.last, self.device), self.model)
            if dist.is_main and not self.folder.best.is_file():
                self._rebuild_best()
        elif taken is not None:
            self.state = adopt_autoencoder(taken, self.model)
        if dist.is_main:
            self.folder.remove_stale_temporaries()
            self.folder.write_options(opts)
            self.folder.truncate_metrics(self.state.step, self.state.approx_step)
        with warnings.catch_warnings():  # the cache is a read-only memory map, and training never writes to it
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            images = torch.from_numpy(np.ascontiguousarray(self.dataset.images))
        # Small datasets live on the GPU as uint8: batches are then gathered there, with no copies.
        self.images = images.to(self.device) if self.device.type == "cuda" and images.numel() < 8 << 30 else images
        self.resumed_from = self.state.step + self.state.approx_step if resuming else None
        self.stop = StopRequest()
        self.val_codes: torch.Tensor | None = None  # the frozen encoder's codes of the held-out images (phase 2)
        self._last_snapshot_tick = -1

    def _rebuild_best(self) -> None:
        """A run without ``best.pt`` (deleted, or left by a kill in older versions, which wrote ``last.pt``
        first) could never leave the autoencoder phase: rebuild it from ``last.pt``, the best weights left."""
        state = self.state
        lost = f" (update {state.best_step}'s weights are lost)" if 0 <= state.best_step != state.step else ""
        self.report.message(f"note: best.pt was missing; rebuilt from last.pt (update {state.step}){lost}")
        with open(self.folder.last, "rb") as source, atomic_open(self.folder.best, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)

    # ------------------------------------------------------------------ data

    def _load_data(self) -> Dataset:
        opts = self.opts
        assert opts.resolution is not None and opts.channels is not None and opts.crop is not None
        prep = Preprocessing(opts.resolution, opts.channels, opts.crop, opts.align or "none")
        cache = opts.cache_dir.expanduser() if opts.cache_dir else default_cache_dir()
        if self.dist.is_main:
            dataset = load_dataset(self.sources, prep, cache, opts.workers, self.bars)
        barrier(self.dist)
        if not self.dist.is_main:
            dataset = load_dataset(self.sources, prep, cache, opts.workers)
        if dataset.skipped and self.dist.is_main:
            self.report.message(f"skipped {len(dataset.skipped)} unreadable file(s), e.g. {dataset.skipped[0]}")
        return dataset

    def _batch(self, positions: list[int]) -> torch.Tensor:
        index = torch.from_numpy(self.train_idx[positions])
        if self.images.device != index.device:
            index = index.to(self.images.device)
        x = snapshots.to_model_input(self.images[index], self.device)
        if self.opts.hflip:
            flip = torch.rand(x.shape[0], device=self.device, generator=self.model.noise) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x

    # ------------------------------------------------------------------ the run: two phases in order

    def run(self) -> TrainResult:
        """The autoencoder phase, then the approximator phase, each from where the run is; a stop request (Ctrl-C,
        SIGTERM) saves ``last.pt`` and ends the run at the next update."""
        if self.resumed_from is not None and self.dist.is_main:
            where, phase = self.folder.path, self.state.phase
            self.report.message(f"resuming {where} at update {self.resumed_from} ({phase} phase)")
        with self.stop.installed():
            self._autoencoder_phase()
            self._approximator_phase()
        return TrainResult(
            run=self.folder.path,
            state=self.state,
            interrupted=self.stop.requested,
            skipped_files=len(self.dataset.skipped),
            main_process=self.dist.is_main,
        )

    # ------------------------------------------------------------------ phase 1: the autoencoder

    def _autoencoder_phase(self) -> None:
        """The autoencoder and the patch discriminator (under the joint schedule, all of Algorithm 1) until the
        steps are done or validation stops improving; then the hand-over (:meth:`_end_autoencoder_phase`). Nothing
        to train for a run that took its autoencoder from another run (``--autoencoder-from``)."""
        state = self.state
        if state.step < self.total_steps and not state.early_stopped and not state.autoencoder_from:
            state.phase = "autoencoder"
            with self.bars.task("", self.total_steps, done=state.step, transient=False) as task:
                self._autoencoder_loop(task)
        if not self.stop.requested and state.phase == "autoencoder":
            self._end_autoencoder_phase()

    def _autoencoder_loop(self, task: Task) -> None:
        """One loop over epochs and batches, from the run's epoch and batch (the data order is a function of the
        seed and the epoch, so a resumed run sees the batches it would have seen)."""
        opts, state = self.opts, self.state
        sampler = DistributedSampler(
            range(len(self.train_idx)),
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=True,
            seed=opts.seed,
            drop_last=True,
        )
        meter = Throughput(state.step)
        clock = Stopwatch(state)
        deadline = Deadline(opts.max_minutes)
        while state.step < self.total_steps:
            sampler.set_epoch(state.epoch)
            order = list(sampler)
            for b in range(state.batch_in_epoch, self.steps_per_epoch):
                x = self._batch(order[b * self.batch_size : (b + 1) * self.batch_size])
                stats = self._autoencoder_update(x)
                state.step += 1
                state.batch_in_epoch = b + 1
                state.images_seen += x.shape[0] * self.dist.world_size
                if state.step % opts.log_every == 0 or state.step == self.total_steps:
                    self._log(stats, meter, task)
                if state.step % opts.log_every == 0 and self._out_of_time(deadline):
                    state.early_stopped = True  # --max-minutes: the phase ends here, validated, for good
                    if self.dist.is_main:
                        self.report.message(f"--max-minutes {opts.max_minutes}: autoencoder phase ends at {state.step}")
                done = state.step >= self.total_steps or state.early_stopped
                stop = self._stop_now()
                if state.step % opts.snapshot_every == 0 or done or stop:
                    clock.lap()
                    self._pause() if stop and not done else self._snapshot()
                if done or state.early_stopped or stop:  # the snapshot may have stopped the phase early
                    break
            if state.batch_in_epoch >= self.steps_per_epoch:
                state.epoch += 1
                state.batch_in_epoch = 0
            if state.early_stopped or self.stop.requested:
                return

    def _autoencoder_update(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One iteration on the batch ``x``: E/G, then D_omega; under the joint schedule also ``approx_k`` rounds of
        D_gamma/G_phi on the batch's detached codes; then the EMA copies. Returns the losses."""
        opts, model = self.opts, self.model
        joint = opts.schedule == "joint"
        codes, recon, stats = model.autoencoder_step(x)
        stats.update(model.discriminator_step(x, recon))
        if joint and opts.approx_k > 0:
            model.update_code_stats(codes)
            real = model.nets.approximator.standardize(codes)
            for _ in range(opts.approx_k):
                stats.update(model.approximator_round(real))
        model.ema_update(("encoder", "decoder", "approximator") if joint else ("encoder", "decoder"))
        return stats

    def _end_autoencoder_phase(self) -> None:
        """The joint schedule (or no approximator steps) ends the run here. The staged one continues from the best
        autoencoder (early stopping keeps the best weights; every autoencoder phase ends with a validation, so
        ``best.pt`` exists), frozen from here on."""
        state = self.state
        if self.opts.schedule == "joint" or self.opts.approx_steps == 0:
            state.phase = "done"
            if self.dist.is_main:  # only rank 0 validated: another rank's state and noise are not the run's
                self._save(self.folder.last)
            return
        barrier(self.dist)
        restore_autoencoder(load_checkpoint(self.folder.best, self.device), self.model)
        state.phase = "approximator"
        if self.dist.is_main:
            self._save(self.folder.last)

    # ------------------------------------------------------------------ phase 2: the approximator

    def _approximator_phase(self) -> None:
        """The approximator and the latent critic on the frozen encoder's codes (staged schedule), until its steps
        are done (a finished run whose ``--approx-steps`` was raised goes on); then the final snapshot."""
        state, opts = self.state, self.opts
        if state.phase == "done" and opts.schedule == "staged" and state.approx_step < opts.approx_steps:
            state.phase = "approximator"  # --approx-steps was raised: go on training the approximator
        if self.stop.requested or state.phase != "approximator":
            return
        with self.bars.task("approximator", opts.approx_steps, done=state.approx_step, transient=False) as task:
            self._approximator_loop(task)
        if not self.stop.requested:
            state.phase = "done"
            self._snapshot(final=True)

    def _approximator_loop(self, task: Task) -> None:
        """One loop over approximator steps, each on a batch of codes drawn with the run's noise generator."""
        opts, state, model = self.opts, self.state, self.model
        real = self._frozen_codes()
        meter = Throughput(state.approx_step)
        clock = Stopwatch(state)
        deadline = Deadline(opts.approx_max_minutes)
        while state.approx_step < opts.approx_steps:
            pick = torch.randint(len(real), (opts.batch_size,), device=self.device, generator=model.noise)
            stats = model.approximator_round(real[pick])
            model.ema_update(("approximator",))
            state.approx_step += 1
            if state.approx_step % opts.log_every == 0:
                self._log(stats, meter, task, counter=state.approx_step)
            stop = self._stop_now()
            if state.approx_step % opts.snapshot_every == 0 or stop:
                clock.lap()
                self._pause() if stop else self._snapshot()
            if stop:
                return
            if state.approx_step % opts.log_every == 0 and self._out_of_time(deadline):
                if self.dist.is_main:
                    limit, step = opts.approx_max_minutes, state.approx_step
                    self.report.message(f"--approx-max-minutes {limit}: approximator phase ends at {step}")
                break
        clock.lap()

    def _frozen_codes(self) -> torch.Tensor:
        """The frozen encoder's codes of the training images, standardised by their exact statistics (which the
        approximator keeps); the held-out images' codes go to :attr:`val_codes` for the snapshots."""
        model = self.model
        encoder = model.export_module("encoder")
        codes = snapshots.encode(encoder, self.images, self.train_idx, self.device)
        model.set_code_stats(codes)
        if "approximator" in model.ema:  # the EMA copy keeps the exact statistics too
            model.ema["approximator"].module.code_mean.copy_(model.nets.approximator.code_mean)
            model.ema["approximator"].module.code_std.copy_(model.nets.approximator.code_std)
        real = model.nets.approximator.standardize(codes)
        self.val_codes = snapshots.encode(encoder, self.images, self.val_idx, self.device)
        return real

    # ------------------------------------------------------------------ stopping

    def _out_of_time(self, deadline: Deadline) -> bool:
        """Whether a phase's time budget is spent (rank 0's clock decides, so every rank stops at one step)."""
        if deadline.limit is None:
            return False
        late = deadline.passed()
        return bool(broadcast(late, self.dist)) if self.dist.enabled else late

    def _stop_now(self) -> bool:
        """Whether a stop was requested (on rank 0: all ranks then checkpoint at the same step)."""
        if self.dist.enabled:
            self.stop.requested = bool(broadcast(self.stop.requested, self.dist))
        return self.stop.requested

    # ------------------------------------------------------------------ logging

    def _log(self, stats: dict, meter: Throughput, task: Task, counter: int | None = None) -> None:
        if not self.dist.is_main:
            return
        state = self.state
        count = state.step if counter is None else counter
        batch = self.batch_size if counter is None else self.opts.batch_size  # the approximator's is as given
        rate = meter.rate(count) * (batch * self.dist.world_size)
        values = {k: round(float(v), 6) for k, v in stats.items()}
        for name, value in values.items():
            if not math.isfinite(value):
                self._diverged(name, value, count)
        record = {
            "step": state.step,
            "approx_step": state.approx_step,
            "epoch": state.epoch,
            "phase": state.phase,
            "img_per_s": round(rate, 1),
            **values,
        }
        self.folder.log(record)
        losses = "  ".join(f"{k.removeprefix('loss_')} {v:.4f}" for k, v in values.items())
        description = f"epoch {state.epoch + 1}/{self.opts.epochs}" if counter is None else "approximator"
        task.update(done=count, description=description, info=f"{losses}  {rate:,.0f} img/s")

    def _diverged(self, what: str, value: float, update: int) -> None:
        """Stop on a non-finite loss before any checkpoint holds the broken weights (they are useless, and
        the run would otherwise end with exit 0 naming a best.pt that was never written)."""
        raise UserError(
            f"training diverged: {what} is {value} at update {update} ({self.state.phase} phase); checkpoints "
            "written before are kept. Start again in a new --out with a lower --lr, --approx-lr or --lambda-adv"
        )

    # ------------------------------------------------------------------ snapshots: measure and decide, then write

    def _snapshot(self, *, final: bool = False) -> None:
        """Rank 0 measures and decides (:meth:`_measure_and_decide`), then writes (:meth:`_write_snapshot`); every
        rank then takes rank 0's early-stopping decision. ``final``: the run's last snapshot, which keeps its
        weights as the best."""
        state = self.state
        tick = state.step + state.approx_step
        if final and tick == self._last_snapshot_tick:  # measured already: only record the new phase
            if self.dist.is_main:
                self._write_checkpoints(best=True)
            barrier(self.dist)
            return
        self._last_snapshot_tick = tick
        if self.dist.is_main:
            record, improved = self._measure_and_decide(tick)
            self._write_snapshot(record, tick, best=improved or state.phase != "autoencoder" or final)
            self.report.message(_describe(record, improved=improved))
        state.early_stopped = bool(broadcast(state.early_stopped, self.dist))
        barrier(self.dist)

    def _measure_and_decide(self, tick: int) -> tuple[dict[str, Any], bool]:
        """The snapshot's metrics record, and whether validation improved: in the autoencoder phase the validation
        reconstruction error, which decides the best weights and early stopping (in the run's state); where the
        approximator trains, the latent Frechet distance. A non-finite measure stops the run (:meth:`_diverged`)."""
        state = self.state
        record: dict[str, Any] = {
            "step": state.step,
            "approx_step": state.approx_step,
            "epoch": state.epoch,
            "phase": state.phase,
        }
        improved = False
        if state.phase == "autoencoder":
            improved = self._validate_autoencoder(record, tick)
        if state.phase != "autoencoder" or self.opts.schedule == "joint":
            self._measure_approximator(record, tick)
        return record, improved

    def _validate_autoencoder(self, record: dict[str, Any], tick: int) -> bool:
        """Validation reconstruction error of the sampling weights (and of the raw ones beside an EMA copy) into
        ``record``; keeps the best and counts validations without improvement (``--patience``)."""
        state, opts, model = self.state, self.opts, self.model
        encoder, decoder = model.export_module("encoder"), model.export_module("decoder")
        mse = snapshots.reconstruction_mse(encoder, decoder, self.images, self.val_idx, self.device)
        if not math.isfinite(mse):
            self._diverged("validation MSE", mse, tick)
        record["val_mse"] = mse
        if model.ema:
            record["val_mse_raw"] = snapshots.reconstruction_mse(
                model.nets.encoder, model.nets.decoder, self.images, self.val_idx, self.device
            )
        improved = mse < state.best_val_mse
        if improved:
            state.best_val_mse, state.best_step, state.bad_validations = mse, state.step, 0
        else:
            state.bad_validations += 1
        if opts.patience and state.bad_validations >= opts.patience:
            state.early_stopped = True
            record["early_stopped"] = True
        return improved

    def _measure_approximator(self, record: dict[str, Any], tick: int) -> None:
        """The latent Frechet distance between approximator codes and the held-out images' codes, into ``record``."""
        model = self.model
        val_codes = self.val_codes
        if val_codes is None:
            val_codes = snapshots.encode(model.export_module("encoder"), self.images, self.val_idx, self.device)
        if len(val_codes) >= 2:  # a Gaussian needs two codes; a tiny folder may hold out one image
            fd = snapshots.latent_frechet(model.export_module("approximator"), val_codes, self.opts.z_dim)
            record["latent_fd"] = fd
            if not math.isfinite(fd):
                self._diverged("the latent Frechet distance", fd, tick)

    def _write_snapshot(self, record: dict[str, Any], tick: int, *, best: bool) -> None:
        """Rank 0: the sample and reconstruction grids, the metrics record, then the checkpoints (``best.pt`` too
        when ``best``)."""
        model, opts = self.model, self.opts
        encoder, decoder = model.export_module("encoder"), model.export_module("decoder")
        approximator = model.export_module("approximator")
        samples = snapshots.sample_grid(approximator, decoder, opts.z_dim, self.device)
        save_png(samples, self.folder.grid("samples", tick))
        recons = snapshots.reconstruction_grid(encoder, decoder, self.images, self.val_idx, self.device)
        save_png(recons, self.folder.grid("reconstructions", tick))
        self.folder.log(record)
        self._write_checkpoints(best=best)

    def _write_checkpoints(self, *, best: bool) -> None:
        """``best.pt`` (when ``best``) before ``last.pt``: a kill or a full disk between the two leaves the previous
        ``last.pt``, which resumes (and redoes these steps); the other order left a ``last.pt`` naming a ``best.pt``
        never written."""
        if best:
            self._save(self.folder.best)
        self._save(self.folder.last)

    def _pause(self) -> None:
        """Stop requested: save where we are, without validating (so the run's choice of best weights
        is the same as if it had not been interrupted)."""
        if self.dist.is_main:
            self._save(self.folder.last)
        barrier(self.dist)

    def _save(self, path: Path) -> None:
        save_checkpoint(training_checkpoint(self.opts, self.state, self.data_record, self.model), path)


class Stopwatch:
    """Adds the wall-clock time since the previous lap to the run's ``train_seconds`` (kept in checkpoints)."""

    def __init__(self, state: TrainState) -> None:
        self.state = state
        self.start = time.perf_counter()

    def lap(self) -> None:
        now = time.perf_counter()
        self.state.train_seconds += now - self.start
        self.start = now


class Deadline:
    """A wall-clock budget in minutes (``None``: none), counted from its creation."""

    def __init__(self, minutes: float | None) -> None:
        self.limit = minutes
        self.start = time.monotonic()

    def passed(self) -> bool:
        return self.limit is not None and time.monotonic() - self.start >= 60 * self.limit


class Throughput:
    """Updates per second since the previous call."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.time = time.perf_counter()

    def rate(self, count: int) -> float:
        now = time.perf_counter()
        rate = (count - self.count) / max(now - self.time, 1e-9)
        self.count, self.time = count, now
        return rate


def _describe(record: dict[str, Any], *, improved: bool) -> str:
    parts = [f"update {record['step'] + record['approx_step']:>7}"]
    if "val_mse" in record:
        parts.append(f"val mse {record['val_mse']:.5f}" + (" (best)" if improved else ""))
    if "latent_fd" in record:
        parts.append(f"latent FD {record['latent_fd']:.3f}")
    if record.get("early_stopped"):
        parts.append("early stop: no improvement")
    return "  ".join(parts)
