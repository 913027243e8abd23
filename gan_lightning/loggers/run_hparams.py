"""What a run records as its hyperparameters in every logger: the model's (what trains: net,
loss, penalties, schedules, ...) and the composed config's keys that change a run (seed, data
set, batch size, image size, budgets, precision, devices, the metrics' protocol), so two runs
of a `data.batch_size=16,64` sweep differ in the hparams view as they did in training.
"""

import lightning as L
from omegaconf import DictConfig, OmegaConf

from gan_lightning.conf import flatten

# Config keys beyond the model's hyperparameters that define a run; keys under a prefix all count.
RUN_KEYS = ("seed", "conditional", "channels_last", "compile", "max_generator_steps", "data.", "trainer.",
            "callbacks.metrics.feature", "callbacks.metrics.num_samples", "callbacks.metrics.metrics")
# ...but not these, which change nothing a run computes (or are the model's own, recorded already).
NOT_RUN_KEYS = ("data._target_", "data.root", "data.num_workers", "data.cache_dir", "trainer._target_",
                "trainer.default_root_dir", "trainer.enable_progress_bar", "trainer.enable_model_summary",
                "trainer.log_every_n_steps", "trainer.num_sanity_val_steps")


def run_hparams(cfg: DictConfig | dict, model_hparams, choices: dict | None = None) -> dict:
    """The hyperparameters a run logs: the model's, then each run key as a nested entry; with
    Hydra's `choices`, the presets too (`model=...` as `preset`, `data=...` as `data.name`,
    `experiment=...`)."""
    config = flatten(OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg)
    choices = choices or {}
    run = {key: choices[group] for key, group in (("preset", "model"), ("experiment", "experiment"))
           if choices.get(group) is not None}
    if choices.get("data") is not None:
        run["data"] = {"name": choices["data"]}
    for key, value in config.items():
        if key.startswith(RUN_KEYS) and not key.startswith(NOT_RUN_KEYS) and key not in model_hparams:
            *parents, leaf = key.split(".")
            node = run
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
    return {**model_hparams, **run}


class RecordHparams(L.Callback):
    """Logs `run_hparams` to every logger as fitting starts (in place of Lightning's own call,
    which knows only the model's and comes next)."""

    def __init__(self, cfg: DictConfig, choices: dict | None = None):
        # resolved now: a ddp_spawn child has no Hydra to resolve ${hydra:...} with
        self.cfg, self.choices = OmegaConf.to_container(cfg, resolve=True), choices

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        params = run_hparams(self.cfg, dict(pl_module.hparams_initial), self.choices)
        for logger in trainer.loggers:
            logger.log_hyperparams(params)
            logger.save()
