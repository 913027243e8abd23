"""Callbacks a test adds to a real run (`+callbacks.probe._target_=helpers.probes.<Name>`) to
look at it while it runs."""

from pathlib import Path

import lightning as L


class EvaluationsOnDisk(L.Callback):
    """After each epoch's callbacks before it (the metrics callback among them): the val/fid
    points already in the run's event files, by step, as a process killed now would leave them."""

    seen: list[list[int]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        from gan_lightning.run.directory import read_scalars

        log_dir = Path(trainer.loggers[0].log_dir)
        EvaluationsOnDisk.seen.append([step for step, _ in read_scalars(log_dir).get("val/fid", [])])
