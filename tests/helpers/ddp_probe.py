"""A callback for DDP tests: every rank saves its weights, ADA's and APA's p, a noise draw, its health alarms and
LeCam's averages to <dirpath>/rank<r>.pt."""

from pathlib import Path

import lightning as L
import torch


class RankProbe(L.Callback):
    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)
        self.noise = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.noise is None:  # after the module's on_train_start, as the training loop sees it
            self.noise = pl_module.noise(4).cpu()
            self.labelled = isinstance(batch, (tuple, list))  # (images, labels) with conditional=true

    def on_train_end(self, trainer, pl_module):
        self.dirpath.mkdir(parents=True, exist_ok=True)
        # the weights, and ADA's and APA's counts (BatchNorm's statistics are each rank's own)
        adaptive = [(k, v) for k, v in pl_module.named_buffers() if k.endswith("units_on")]
        params = {k: v.detach().cpu() for k, v in [*pl_module.named_parameters(), *adaptive]}
        health = next((c for c in trainer.callbacks if hasattr(c, "raised")), None)
        torch.save({"params": params, "noise": self.noise, "labelled": self.labelled, "world_size": trainer.world_size,
                    "critic_steps": pl_module.critic_steps, "generator_steps": pl_module.generator_steps,
                    "alarms": None if health is None else list(health.raised),
                    "lecam": None if pl_module.lecam is None else pl_module.lecam.averages.cpu()},
                   self.dirpath / f"rank{trainer.global_rank}.pt")
