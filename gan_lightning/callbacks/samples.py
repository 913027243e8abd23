"""Fixed-noise sample grids: a PNG per epoch (and a final one) and a TensorBoard image."""

import io
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
from torchvision.utils import make_grid

from gan_lightning.errors import require_number
from gan_lightning.nets.conditional import per_class
from gan_lightning.run.background import BackgroundWrites

# A conditional run's grid has one row per class, for this many classes at most.
MAX_CLASS_ROWS = 10


def encode_png(pixels: np.ndarray) -> bytes:
    """(H, W, C) uint8 pixels, C 1 (grey) or 3, as a PNG file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buffer, format="png")
    return buffer.getvalue()


class SampleGrid(L.Callback):
    """Draws G's images for the module's `fixed_noise`, so grids are comparable over time.

    The TensorBoard image's x-axis is the generator step (not trainer.global_step, which
    counts the critic's steps too). A conditional run's grid has one row per class (the
    first 10), each row the same `nrow` noise vectors: a class not learned shows as a bad row.
    The loop only draws the grid; a worker thread encodes it once (PNG) for the file and
    TensorBoard, and the run's end waits for it.
    """

    def __init__(self, dirpath: str, every_n_epochs: int = 1, nrow: int = 8):
        require_number("callbacks.sample_grid.nrow", nrow, integer=True, example=8)  # images a row: 0 divides by 0
        require_number("callbacks.sample_grid.every_n_epochs", every_n_epochs, integer=True, low_allowed=True,
                       example=1)  # 0: only the final grid
        self.dirpath = Path(dirpath)
        self.every_n_epochs = every_n_epochs
        self.nrow = nrow
        self.writes = BackgroundWrites("grid-writer")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if self.every_n_epochs > 0 and epoch % self.every_n_epochs == 0:
            self._write(trainer, pl_module, f"epoch_{epoch:04d}", to_tensorboard=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer, pl_module, "final", to_tensorboard=False)
        self.writes.wait()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.writes.wait(raise_errors=False)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        self.writes.close()

    def _write(self, trainer, pl_module, name: str, to_tensorboard: bool) -> None:
        if not trainer.is_global_zero:
            return
        if pl_module.conditional:
            rows = min(pl_module.hparams.num_classes, MAX_CLASS_ROWS)
            noise, labels = per_class(pl_module.fixed_noise[:self.nrow], rows)
            images = pl_module.sample(noise=noise, labels=labels).float()
        else:
            images = pl_module.sample(noise=pl_module.fixed_noise).float()
        grid = make_grid(images, nrow=self.nrow, normalize=True, value_range=(-1, 1))
        if images.shape[1] == 1:  # make_grid repeats one channel thrice: a grey PNG is a quarter of the work
            grid = grid[:1]
        # torchvision's save_image rounding, as (H, W, C) uint8 pixels
        pixels = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
        loggers = trainer.loggers if to_tensorboard else []
        path, step = self.dirpath / f"{name}.png", pl_module.generator_steps
        self.writes.submit(lambda: self._save(pixels, path, loggers, step))

    def _save(self, pixels: np.ndarray, path: Path, loggers, step: int) -> None:
        png = encode_png(pixels)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_bytes(png)
        except OSError as err:  # a write cut short (a full disk) names no file: name it
            raise OSError(err.errno, err.strerror, str(path)) from err
        for logger in loggers:
            if hasattr(logger, "log_png"):  # ours: the same PNG bytes
                logger.log_png("samples/fixed_noise", png, pixels.shape, step)
            elif isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image("samples/fixed_noise", pixels, step, dataformats="HWC")
