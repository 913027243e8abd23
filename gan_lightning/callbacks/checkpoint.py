"""checkpoints/last.ckpt while the run runs, best.ckpt by FID, and a clean stop on SIGINT/SIGTERM.

last.ckpt is written after every epoch, every `every_n_minutes` and every
`every_n_generator_steps` inside long epochs, and when a signal asks the run to stop; always
to a temporary file first and then renamed, so a kill at any moment leaves a loadable
last.ckpt at most one interval old. Each checkpoint carries what an exact resume needs
beyond Lightning's own state: the random states (torch CPU and CUDA, numpy, python) and
where in the epoch it was written (the datamodule's shuffle resumes from there).
"""

import logging
import math
import os
import random
import signal
import threading
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint

from gan_lightning.errors import ConfigError, Diverged, RunStopped

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def random_states() -> dict:
    """Every random stream a training step draws from, in a form torch.load(weights_only=True) reads."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    states = {"torch": torch.get_rng_state(),
              "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                        "has_gauss": int(has_gauss), "gauss": float(gauss)},
              "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["gauss"]))
    python = states["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


class RunCheckpoint(Checkpoint):
    def __init__(self, dirpath: str, every_n_minutes: float | None = 10.0, every_n_generator_steps: int | None = None,
                 monitor: str | None = "val/fid"):
        for key, value in (("every_n_minutes", every_n_minutes), ("every_n_generator_steps", every_n_generator_steps)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"callbacks.checkpoint.{key}={value!r} must be a positive number or null (off).")
        self.dirpath = Path(dirpath)
        self.every_n_seconds = None if every_n_minutes is None else 60.0 * every_n_minutes
        self.every_n_generator_steps = every_n_generator_steps
        self.monitor = monitor
        self.best = math.inf
        # (epoch, batches trained in it, whether the epoch had ended): saved with every checkpoint.
        self.position = (0, 0, False)
        self.stop_signal: int | None = None
        self._stopping = False
        self._cut_short = False
        self._restored_random_states: dict | None = None
        self._previous_handlers: dict = {}
        self._last_save = time.monotonic()
        self._steps_at_last_save = 0

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
        self._last_save, self._steps_at_last_save = time.monotonic(), pl_module.generator_steps
        self._install_signal_handlers(trainer)

    # ---- when to write ------------------------------------------------------------------

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.position = (trainer.current_epoch, batch_idx + 1, False)
        interval_due = (
            (self.every_n_seconds is not None and time.monotonic() - self._last_save >= self.every_n_seconds)
            or (self.every_n_generator_steps is not None
                and pl_module.generator_steps - self._steps_at_last_save >= self.every_n_generator_steps))
        stop, interval_due = self._agree(trainer, self.stop_signal is not None, interval_due)
        # A budget (max_generator_steps) that ends the run mid-epoch: Lightning still closes the
        # epoch, so the checkpoint that lets a longer budget continue exactly is written here.
        self._cut_short = trainer.should_stop and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if stop or interval_due or self._cut_short:
            self.save(trainer, pl_module, "last")
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
        if self._agree(trainer, self.stop_signal is not None, False)[0]:
            self._stop(trainer, pl_module)

    def _agree(self, trainer, stop: bool, due: bool) -> tuple[bool, bool]:
        """Under DDP every rank must save together (saving has a barrier): a decision of any rank holds."""
        if trainer.world_size == 1:
            return stop, due
        flags = trainer.strategy.reduce(torch.tensor([stop, due], dtype=torch.float32, device=trainer.strategy.root_device),
                                        reduce_op="max")
        return bool(flags[0]), bool(flags[1])

    def save(self, trainer: L.Trainer, pl_module: L.LightningModule, name: str) -> Path:
        """Write checkpoints/<name>.ckpt atomically: a temporary file, flushed to disk, then renamed."""
        check = getattr(pl_module, "raise_if_diverged", None)
        if check is not None:
            check()  # never overwrite a good checkpoint with NaN weights
        path = self.dirpath / f"{name}.ckpt"
        partial = self.dirpath / f".{name}.ckpt.partial"
        trainer.save_checkpoint(partial, weights_only=False)  # the full state: optimizers, loops, callbacks
        if trainer.is_global_zero:
            with open(partial, "rb+") as written:
                os.fsync(written.fileno())
            os.replace(partial, path)
        trainer.strategy.barrier("RunCheckpoint.save")
        if name == "last":
            self._last_save, self._steps_at_last_save = time.monotonic(), pl_module.generator_steps
        return path

    # ---- signals --------------------------------------------------------------------------

    def _install_signal_handlers(self, trainer: L.Trainer) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self.stop_signal = None
        self._launcher = trainer.strategy.launcher
        for signum in STOP_SIGNALS:
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        if self.stop_signal is not None:
            raise KeyboardInterrupt  # asked twice: stop now, without waiting for the step to end
        self.stop_signal = signum
        log.warning("Received %s: saving checkpoints/last.ckpt after this step, then stopping "
                    "(a second signal stops at once, without saving).", signal.Signals(signum).name)
        kill = getattr(self._launcher, "kill", None)
        if kill is not None and signum == signal.SIGTERM:
            # `ddp` started the other ranks itself: pass SIGTERM on, as Lightning does (a terminal's
            # Ctrl-C reaches the whole process group already; twice would stop them at once).
            kill(signum)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, Diverged) and self.last_path.is_file():
            exception.kept = (f"{self.last_path} still holds generator step {self._steps_at_last_save} "
                              f"(resume={self.dirpath.parent} continues from it)")

    def teardown(self, trainer, pl_module, stage: str) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}

    def _stop(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        name = signal.Signals(self.stop_signal).name if self.stop_signal else "a signal"
        run_dir = self.dirpath.parent
        raise RunStopped(f"Stopped by {name} at generator step {pl_module.generator_steps} (epoch "
                         f"{trainer.current_epoch + 1}); {self.last_path} holds that step. Resume with: "
                         f"python -m gan_lightning resume={run_dir}", exit_code=128 + int(self.stop_signal or 15))
