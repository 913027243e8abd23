"""Callbacks that bring a fault into a running `python -m gan_lightning` at a chosen moment
(added with +callbacks.fault._target_=faults.<Name>; tests/helpers is on the path)."""

import os
import signal

import lightning as L


class SignalAt(L.Callback):
    """Sends this process `signum` once the run has made `step` generator steps (Ctrl-C as a user gives it)."""

    def __init__(self, step: int, signum: int = int(signal.SIGINT), hook: str = "on_train_batch_end"):
        self.step, self.signum, self.hook, self.sent = step, signum, hook, False

    def _maybe(self, pl_module) -> None:
        if not self.sent and pl_module.generator_steps == self.step:  # not again in the resumed run
            self.sent = True
            os.kill(os.getpid(), self.signum)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.hook == "on_train_batch_end":
            self._maybe(pl_module)

    def on_fit_start(self, trainer, pl_module):
        if self.hook == "on_fit_start":  # before the training loop: data set-up, start-up
            os.kill(os.getpid(), self.signum)


class CrashAt(L.Callback):
    """A bug in the middle of training: a RuntimeError at generator step `step`."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.generator_steps >= self.step:
            raise RuntimeError(f"a bug at generator step {pl_module.generator_steps}")


class PoisonAt(L.Callback):
    """A diverging run: D's weights become NaN after generator step `step` (a learning rate far too
    high would do it, but one the run refuses to start with)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.generator_steps == self.step:
            for weight in pl_module.discriminator.parameters():
                weight.data.fill_(float("nan"))


class SignalInJob(SignalAt):
    """SignalAt in one job of a sweep only (Hydra's job number `job`)."""

    def __init__(self, job: int, step: int, signum: int = int(signal.SIGTERM)):
        super().__init__(step, signum)
        self.job = job

    def _maybe(self, pl_module) -> None:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.get().job.num == self.job:
            super()._maybe(pl_module)
