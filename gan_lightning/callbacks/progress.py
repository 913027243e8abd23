"""The progress bar: Lightning's, redrawn every 10th batch, with epochs counted from 1 as the
sample grids (epoch_0001.png), the stop message ("at generator step N (epoch E)") and
trainer.max_epochs count them."""

from lightning.pytorch.callbacks import TQDMProgressBar


class EpochProgressBar(TQDMProgressBar):
    # Lightning's bar redraws, with every logged value, after each batch: several ms a step for a
    # small net, more than the step itself. Every 10th batch reads the same.
    def __init__(self, refresh_rate: int = 10):
        super().__init__(refresh_rate=refresh_rate, leave=False)  # one bar, redrawn each epoch

    def on_train_epoch_start(self, trainer, *_) -> None:
        # Lightning's own, with the name set before the reset draws it (its "Epoch 0" never shows)
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs is not None and trainer.max_epochs > 0 else ""
        bar = self.train_progress_bar
        bar.set_description(f"Epoch {trainer.current_epoch + 1}{epochs}", refresh=False)
        total = self.total_train_batches
        bar.reset(total=None if total == float("inf") else total)
        bar.initial = 0
