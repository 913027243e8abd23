"""Callbacks a test adds to a real run (`+callbacks.probe._target_=helpers.probes.<Name>`) to
look at it while it runs."""

from collections import Counter
from pathlib import Path

import lightning as L
import torch
from torch.overrides import TorchFunctionMode


class EvaluationsOnDisk(L.Callback):
    """After each epoch's callbacks before it (the metrics callback among them): the val/fid
    points already in the run's event files, by step, as a process killed now would leave them."""

    seen: list[list[int]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        from gan_lightning.run.directory import read_scalars

        log_dir = Path(trainer.loggers[0].log_dir)
        EvaluationsOnDisk.seen.append([step for step, _ in read_scalars(log_dir).get("val/fid", [])])


class StepTimes(L.Callback):
    """When each generator step ended (time.monotonic()), in the order the run made them."""

    seen: list[tuple[float, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        import time

        StepTimes.seen.append((time.monotonic(), pl_module.generator_steps))


# What makes the host wait for a GPU: a tensor read into Python, copied to the host, or given a
# shape only its values decide. On a CPU nothing waits, so the calls themselves are counted.
SYNCING = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__float__,
           torch.Tensor.__int__, torch.Tensor.__index__, torch.Tensor.cpu, torch.Tensor.numpy,
           torch.Tensor.nonzero, torch.nonzero, torch.Tensor.__format__}


class _SyncCounter(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in SYNCING:
            self.calls.append(func.__name__)
        return func(*args, **(kwargs or {}))


class HostSyncs(L.Callback):
    """The synchronising calls of each batch, counted from its start to the next batch's start
    (the step, its logging and every callback). `batches` holds (G step reached, whether the batch
    ended in a G step Lightning writes to the loggers, the calls' names) per batch."""

    batches: list[tuple[int, bool, list[str]]] = []

    def __init__(self) -> None:
        self._counter: _SyncCounter | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._close(trainer, pl_module)
        self._counter = _SyncCounter()
        self._counter.__enter__()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._close(trainer, pl_module)

    def _close(self, trainer, pl_module) -> None:
        if self._counter is None:
            return
        self._counter.__exit__(None, None, None)
        generator_stepped = pl_module.critic_steps % pl_module.hparams.n_critic == 0
        every = trainer.log_every_n_steps // pl_module.hparams.n_critic  # in G steps
        logged = generator_stepped and pl_module.generator_steps % every == 0
        HostSyncs.batches.append((pl_module.generator_steps, logged, self._counter.calls))
        self._counter = None


class GradientReader(L.Callback):
    """Listens where a gradient-logging callback would: how often each hook is called, and whether
    every weight about to step has its gradient by on_before_optimizer_step."""

    calls: Counter[str] = Counter()
    gradients_ready: list[bool] = []

    def on_after_backward(self, trainer, pl_module) -> None:
        GradientReader.calls["on_after_backward"] += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        GradientReader.calls["on_before_optimizer_step"] += 1
        GradientReader.gradients_ready.append(all(weight.grad is not None for group in optimizer.param_groups
                                                  for weight in group["params"]))


class StepsTaken(L.Callback):
    """At the training's end: whether the module stepped directly (models/direct_steps.py), Lightning's
    count of optimizer steps and a copy of the weights."""

    direct: bool | None = None
    global_step = 0
    weights: dict[str, torch.Tensor] = {}

    def on_train_end(self, trainer, pl_module) -> None:
        StepsTaken.direct, StepsTaken.global_step = pl_module._direct_steps, trainer.global_step
        StepsTaken.weights = {name: value.clone() for name, value in pl_module.state_dict().items()
                              if torch.is_tensor(value)}
