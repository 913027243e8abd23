"""Fixed-noise sample grids: a PNG per epoch (and a final one) and a TensorBoard image."""

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid, save_image

from gan_lightning.nets.conditional import per_class

# A conditional run's grid has one row per class, for this many classes at most.
MAX_CLASS_ROWS = 10


class SampleGrid(L.Callback):
    """Draws G's images for the module's `fixed_noise`, so grids are comparable over time.

    The TensorBoard image's x-axis is the generator step (not trainer.global_step, which
    counts the critic's steps too). A conditional run's grid has one row per class (the
    first 10), each row the same `nrow` noise vectors: a class not learned shows as a bad row.
    """

    def __init__(self, dirpath: str, every_n_epochs: int = 1, nrow: int = 8):
        self.dirpath = Path(dirpath)
        self.every_n_epochs = every_n_epochs
        self.nrow = nrow

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if self.every_n_epochs > 0 and epoch % self.every_n_epochs == 0:
            self._write(trainer, pl_module, f"epoch_{epoch:04d}", to_tensorboard=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer, pl_module, "final", to_tensorboard=False)

    def _write(self, trainer, pl_module, name: str, to_tensorboard: bool) -> None:
        if not trainer.is_global_zero:
            return
        if pl_module.conditional:
            rows = min(pl_module.hparams.num_classes, MAX_CLASS_ROWS)
            noise, labels = per_class(pl_module.fixed_noise[:self.nrow], rows)
            images = pl_module.sample(noise=noise, labels=labels).float().cpu()
        else:
            images = pl_module.sample(noise=pl_module.fixed_noise).float().cpu()
        grid = make_grid(images, nrow=self.nrow, normalize=True, value_range=(-1, 1))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        save_image(grid, self.dirpath / f"{name}.png")
        if to_tensorboard:
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image("samples/fixed_noise", grid, global_step=pl_module.generator_steps)
