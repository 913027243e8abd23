"""Stop after a number of generator steps (trainer.max_steps counts D's steps too)."""

import lightning as L

from gan_lightning.errors import ConfigError


class GeneratorStepBudget(L.Callback):
    def __init__(self, max_generator_steps: int):
        if not isinstance(max_generator_steps, int) or max_generator_steps < 1:
            raise ConfigError(f"max_generator_steps={max_generator_steps} must be a positive integer or null.")
        self.max_generator_steps = max_generator_steps

    def _check(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.generator_steps >= self.max_generator_steps:
            trainer.should_stop = True

    def on_train_start(self, trainer, pl_module):
        self._check(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._check(trainer, pl_module)
