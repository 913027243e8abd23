"""Entry point: compose the config, build datamodule, module, callbacks and loggers, fit.

    python -m gan_lightning model=wgan_gp data=mnist trainer.max_epochs=5
"""

import logging
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Checkpoint
from omegaconf import DictConfig, OmegaConf

from gan_lightning.callbacks import GeneratorStepBudget
from gan_lightning.distributed import gan_strategy, refuse_relaunching_sweeps
from gan_lightning.errors import ConfigError, one_line_errors

log = logging.getLogger(__name__)


def _instantiate_all(group: DictConfig | None) -> list:
    """Every `_target_` entry of a group such as callbacks or logger (null/empty -> none)."""
    if not group:
        return []
    return [instantiate(entry) for entry in group.values() if entry is not None and "_target_" in entry]


def train(cfg: DictConfig) -> float | None:
    """Fit one run; returns its quality number (`hp_metric`, lower is better) for sweeps."""
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None and not Path(ckpt_path).expanduser().is_file():
        raise ConfigError(f"ckpt_path={ckpt_path} does not exist: give a run's checkpoints/last.ckpt to resume it.")
    if cfg.trainer.get("max_steps", -1) not in (-1, None):
        log.warning("trainer.max_steps counts the optimizer steps of both D and G; "
                    "use max_generator_steps to budget generator steps.")

    datamodule = instantiate(cfg.data)
    # _convert_="all": plain dicts/lists in the module's hparams, so checkpoints load
    # with weights_only=True and without Hydra or OmegaConf.
    model = instantiate(cfg.model, image_shape=list(datamodule.image_shape),
                        net=OmegaConf.to_container(cfg.net, resolve=True), _convert_="all")

    callbacks = _instantiate_all(cfg.get("callbacks"))
    if cfg.get("max_generator_steps") is not None:
        callbacks.append(GeneratorStepBudget(cfg.max_generator_steps))
    loggers = _instantiate_all(cfg.get("logger"))
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    progress_bar = cfg.trainer.get("enable_progress_bar")
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                          strategy=gan_strategy(cfg.trainer),
                          # no checkpoint callback configured (callbacks=none): no checkpoints at all,
                          # rather than Lightning's default epoch=N-step=M.ckpt
                          enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
                          # null = on for a single run, off in sweeps (one job's bar per line floods the log)
                          enable_progress_bar=(not multirun) if progress_bar is None else progress_bar)
    refuse_relaunching_sweeps(trainer, multirun)

    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    log.info("finished: %d generator steps, %d critic steps; outputs in %s",
             model.generator_steps, model.critic_steps, cfg.paths.output_dir)
    metric = trainer.callback_metrics.get("hp_metric")
    return None if metric is None else float(metric)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    with one_line_errors():
        return train(cfg)


if __name__ == "__main__":
    main()
