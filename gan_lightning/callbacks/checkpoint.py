"""Writing checkpoints while the run runs: checkpoints/last.ckpt, best.ckpt by FID, and a clean
stop on SIGINT/SIGTERM.

last.ckpt is written after every epoch, every `every_n_minutes` and every
`every_n_generator_steps` inside long epochs, and when a signal asks the run to stop; always
to a temporary file first, flushed and then renamed, so a kill at any moment leaves a loadable
last.ckpt at most one interval old. The loop hands each checkpoint over as a copy and trains
on while a worker thread writes it (run/background.py); the stop's save and the run's end wait
for the write. Each checkpoint carries what an exact resume needs beyond
Lightning's own state: the random states (run/random_states.py) and where in the epoch it was
written (the datamodule's shuffle resumes from there). Reading checkpoints back is
run/resume.py's job; the signals' handling is run/signals.py's.
"""

import contextlib
import math
import os
import shlex
import shutil
import signal
import time
import warnings
from functools import partial
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning_utilities import apply_to_collection

from gan_lightning.cluster import slurm
from gan_lightning.cluster.distributed import any_rank
from gan_lightning.errors import ConfigError, Diverged, RunStopped, WriteFailed
from gan_lightning.run.background import BackgroundWrites
from gan_lightning.run.random_states import random_states, restore_random_states
from gan_lightning.run.signals import StopSignals


def snapshot(checkpoint: dict, reuse: list[torch.Tensor]) -> tuple[dict, list[torch.Tensor]]:
    """`checkpoint` with its tensors copied to the CPU, so that training can go on while it is
    written, and the copies. The copies go into `reuse` (the previous snapshot's, already
    written) where shapes match: fresh memory would cost page faults as large as the copy."""
    spare, copies = iter(reuse), []

    def copy(tensor: torch.Tensor) -> torch.Tensor:
        old = next(spare, None)
        if old is not None and old.shape == tensor.shape and old.dtype == tensor.dtype:
            copied = old.copy_(tensor.detach())
        else:
            copied = tensor.detach().to("cpu", copy=True)
        copies.append(copied)
        return copied

    return apply_to_collection(checkpoint, torch.Tensor, copy), copies


def without_crc32() -> contextlib.AbstractContextManager:
    """torch.save without the zip's CRC-32s, where torch can (2.6 and later): torch.load never
    checks them, and computing them takes CPU from training (docs/measurements.md)."""
    try:
        from torch.utils.serialization import config
    except ImportError:
        return contextlib.nullcontext()
    if not hasattr(config.save, "compute_crc32"):
        return contextlib.nullcontext()
    return config.patch({"save.compute_crc32": False})


def write_checkpoint(checkpoint: dict, path: Path) -> None:
    """`checkpoint` into `path`, flushed to the disk."""
    with open(path, "wb") as file, without_crc32():
        torch.save(checkpoint, file)
        file.flush()
        os.fsync(file.fileno())


class SaveInterval:
    """Whether last.ckpt is due inside an epoch: `minutes` or `generator_steps` since the last save."""

    def __init__(self, minutes: float | None, generator_steps: int | None):
        for key, value in (("every_n_minutes", minutes), ("every_n_generator_steps", generator_steps)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"callbacks.checkpoint.{key}={value!r} must be a positive number or null (off).")
        self.seconds = None if minutes is None else 60.0 * minutes
        self.generator_steps = generator_steps
        self.saved_at, self.steps_at_save = time.monotonic(), 0

    def due(self, generator_steps: int) -> bool:
        return ((self.seconds is not None and time.monotonic() - self.saved_at >= self.seconds)
                or (self.generator_steps is not None and generator_steps - self.steps_at_save >= self.generator_steps))

    def saved(self, generator_steps: int) -> None:
        self.saved_at, self.steps_at_save = time.monotonic(), generator_steps


class RunCheckpoint(Checkpoint):
    def __init__(self, dirpath: str, every_n_minutes: float | None = 10.0, every_n_generator_steps: int | None = None,
                 monitor: str | None = "val/fid"):
        self.dirpath = Path(dirpath)
        self.interval = SaveInterval(every_n_minutes, every_n_generator_steps)
        self.monitor = monitor
        self.best = math.inf
        # (epoch, batches trained in it, whether the epoch had ended): saved with every checkpoint.
        self.position = (0, 0, False)
        self.signals = StopSignals()
        self.stop_reason: str | None = None  # request_stop(): a stop that is not a signal
        self._stopping = False
        self._cut_short = False
        self._restored_random_states: dict | None = None
        self.writes = BackgroundWrites("checkpoint-writer")
        self._copies: list[torch.Tensor] = []  # the last snapshot's tensors (see snapshot())
        self.kept_step = 0  # the generator step last.ckpt holds, once its write is complete

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    # ---- what a checkpoint carries, and putting it back -----------------------------------

    def state_dict(self) -> dict:
        epoch, batches, epoch_end = self.position
        return {"random_states": random_states(), "epoch": epoch, "batches": batches, "epoch_end": epoch_end,
                "best": self.best}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        state = checkpoint.get("callbacks", {}).get(self.state_key)
        if not state:
            return
        self.best = state["best"]
        self._restored_random_states = state["random_states"]
        if not state["epoch_end"] and state["batches"] > 0 and hasattr(trainer.datamodule, "resume_at"):
            trainer.datamodule.resume_at(state["epoch"], state["batches"])
            # Lightning cannot see that the datamodule resumes the epoch's order itself.
            warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch "
                                    "ended and your dataloader is not resumable")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Restored here, the last moment before the first batch, so that nothing between the
        # checkpoint's load and the loop (set-up, metrics, logging) moves the streams.
        if self._restored_random_states is not None:
            restore_random_states(self._restored_random_states)
            self._restored_random_states = None
        self.interval.saved(pl_module.generator_steps)
        self.kept_step = pl_module.generator_steps  # a resumed run's last.ckpt holds this step
        self.signals.install(forward=getattr(trainer.strategy.launcher, "kill", None), kept=self._stopped_at_once)

    # ---- when to write ------------------------------------------------------------------

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.position = (trainer.current_epoch, batch_idx + 1, False)
        stop, interval_due = any_rank(trainer, self._stop_requested(),
                                      self.interval.due(pl_module.generator_steps))
        # A budget (max_generator_steps) that ends the run mid-epoch: Lightning still closes the
        # epoch, so the checkpoint that lets a longer budget continue exactly is written here.
        self._cut_short = trainer.should_stop and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if stop or interval_due or self._cut_short:
            self.save(trainer, pl_module, "last", wait=stop)
        # Stop before the next batch, not here: Lightning logs this step's scalars after this
        # hook, and the resumed run starts with the next step (no gap in the curves).
        self._stopping = stop

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self._stopping:
            self._stop(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Checkpoint callbacks run after the others: metrics and grids of this epoch are done.
        # Read the metrics first, on every rank: that computes the epoch's sync_dist values (an
        # all-reduce, which rank zero's progress bar has just done) before saving's barrier.
        metrics = trainer.callback_metrics
        score = metrics.get(self.monitor) if self.monitor else None
        if not self._cut_short:
            self.position = (trainer.current_epoch, self.position[1], True)
            self.save(trainer, pl_module, "last")
        if score is not None and math.isfinite(float(score)) and float(score) < self.best:
            self.best = float(score)
            self.save(trainer, pl_module, "best")
        if any_rank(trainer, self._stop_requested())[0] and not self._alarm_at_the_end(trainer):
            self._stop(trainer, pl_module)

    def save(self, trainer: L.Trainer, pl_module: L.LightningModule, name: str, wait: bool = False) -> Path:
        """Write checkpoints/<name>.ckpt atomically, in the background (done before returning with
        `wait`): a copy of the state now, written to a temporary file, flushed, then renamed."""
        check = getattr(pl_module, "raise_if_diverged", None)
        if check is not None:
            check()  # never overwrite a good checkpoint with NaN weights
        path = self.dirpath / f"{name}.ckpt"
        # The full state, as trainer.save_checkpoint writes it (nets, optimizers, loops, callbacks);
        # on every rank, as Lightning's own save: a strategy may gather. Private Lightning: save_checkpoint
        # only writes to a path, and the background write needs the dict itself.
        checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        if trainer.is_global_zero:
            self.writes.wait()  # the previous copy is written: its memory takes this one
            checkpoint, self._copies = snapshot(checkpoint, self._copies)
            self.writes.submit(partial(self._write, checkpoint, path, pl_module.generator_steps))
            if wait:
                self.writes.wait()
        trainer.strategy.barrier("RunCheckpoint.save")
        if name == "last":
            self.interval.saved(pl_module.generator_steps)
        return path

    def _write(self, checkpoint: dict, path: Path, generator_steps: int) -> None:
        """The worker's job: a temporary file, flushed, then renamed (unless a second signal said
        to stop without saving); a failure becomes WriteFailed's sentence."""
        temporary = self.dirpath / f".{path.name}.partial"
        try:
            self.dirpath.mkdir(parents=True, exist_ok=True)
            write_checkpoint(checkpoint, temporary)
            if self.writes.cancelled.is_set():
                return
            os.replace(temporary, path)
        except (OSError, RuntimeError) as err:
            # torch.save's zip writer turns a full disk into a RuntimeError raised while handling the OSError
            cause = err if isinstance(err, OSError) else err.__context__
            if not isinstance(cause, OSError):
                raise
            temporary.unlink(missing_ok=True)  # (before the free space is measured)
            raise self._write_failed(path, cause, checkpoint) from err
        finally:  # written and renamed, or failed (a full disk, a second Ctrl-C): no stray partial file
            temporary.unlink(missing_ok=True)
        if path == self.last_path:
            self.kept_step = generator_steps

    def _write_failed(self, path: Path, err: OSError, checkpoint: dict) -> WriteFailed:
        """One sentence: which file, how much space it needs and has, what is kept."""
        previous = self.last_path.stat().st_size if self.last_path.is_file() else None
        sizes = []
        apply_to_collection(checkpoint, torch.Tensor, lambda t: sizes.append(t.numel() * t.element_size()))
        needed = previous or sum(sizes)
        free = shutil.disk_usage(self.dirpath).free if self.dirpath.exists() else 0
        then = "Free some space, then resume." if self.last_path.is_file() else \
            "Free some space, then start the run again."  # nothing to resume from
        return WriteFailed(f"Could not write {path} ({err.strerror or err}): it needs about {needed / 1e6:.1f} MB "
                           f"and {free / 1e6:.1f} MB are free on that disk; {self._kept()}. {then}")

    # ---- stopping -------------------------------------------------------------------------

    def on_train_end(self, trainer, pl_module) -> None:
        self.writes.wait()  # the run's files are complete when it returns (a failed write stops it here)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.writes.wait(raise_errors=False)  # a write in flight holds a good state: let it land
        if isinstance(exception, Diverged) and self.last_path.is_file():
            exception.kept = self._kept().replace(" holds", " still holds", 1)

    def _kept(self) -> str:
        if not self.last_path.is_file():
            return "no checkpoint had been written yet"
        return (f"{self.last_path} holds generator step {self.kept_step} "
                f"(resume={shlex.quote(str(self.dirpath.parent))} continues from it)")

    def _stopped_at_once(self) -> str:
        """A second signal: the write in flight is not committed; what last.ckpt holds then."""
        self.writes.cancel()
        return self._kept()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.writes.close()
        self.signals.uninstall()

    def request_stop(self, reason: str) -> None:
        """Stop as a Ctrl-C does (last.ckpt of this step, the resume command), for `reason` ("the health alarm ...")."""
        self.stop_reason = self.stop_reason or reason

    def _alarm_at_the_end(self, trainer: L.Trainer) -> bool:
        """A stop asked by an alarm (not a signal) as the run's budget ends it anyway: the run is
        finished, not stopped, and no resume is offered that would have nothing left to train."""
        last_epoch = trainer.max_epochs not in (None, -1) and trainer.current_epoch + 1 >= trainer.max_epochs
        return self.signals.requested is None and (trainer.should_stop or last_epoch)

    def _stop_requested(self) -> bool:
        return self.signals.requested is not None or self.stop_reason is not None

    def _stop(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.writes.wait()
        by = self.signals.name if self.signals.requested is not None else self.stop_reason
        then = f"Resume with: python -m gan_lightning resume={shlex.quote(str(self.dirpath.parent))}"
        if slurm.job_id() is not None and self.signals.requested == signal.SIGUSR1:  # SLURM's time-limit warning
            by, then = "SIGUSR1 (SLURM's time-limit warning)", (slurm.requeue(self.dirpath.parent) if trainer.is_global_zero else "")
        elif slurm.job_id() is not None and self.signals.requested == signal.SIGTERM:
            then = f"If SLURM requeues the job (a preemption), the same script continues this run; else {then[0].lower()}{then[1:]}"
        raise RunStopped(f"Stopped by {by} at generator step {pl_module.generator_steps} (epoch "
                         f"{trainer.current_epoch + 1}); {self.last_path} holds that step. {then}",
                         exit_code=128 + self.signals.requested if self.signals.requested is not None else 1)
