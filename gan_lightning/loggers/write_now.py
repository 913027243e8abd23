"""Scalars straight to the run's loggers, flushed, and into `trainer.callback_metrics` (what
checkpoint monitors and the run's return value read), without `self.log`: its bookkeeping costs
about a millisecond per logging step on a small net, and it holds epoch values back until the
epoch's end, where a Ctrl-C during the checkpoint would lose them."""

import lightning as L
import torch


def write_now(trainer: L.Trainer, values: dict[str, float], step: int, epoch: int | None = None) -> None:
    """`values` at x-axis `step` (with an `epoch` scalar as Lightning adds to self.log's, if given)."""
    trainer.callback_metrics.update({name: torch.tensor(value) for name, value in values.items()})
    logged = values if epoch is None else {**values, "epoch": epoch}
    for logger in trainer.loggers:
        logger.log_metrics(logged, step=step)
        logger.save()
