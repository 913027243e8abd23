"""Entry point: compose the config, build datamodule, module, callbacks and loggers, fit.

    python -m gan_lightning model=wgan_gp data=mnist trainer.max_epochs=5
    python -m gan_lightning resume=outputs/runs/wgan_gp-mnist/<time> trainer.max_epochs=10
"""

import logging
import sys
from importlib.resources import files
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Checkpoint
from omegaconf import DictConfig, OmegaConf

from gan_lightning.callbacks import GeneratorStepBudget
from gan_lightning.checkpoint import check_resumable, read_checkpoint
from gan_lightning.distributed import gan_strategy, refuse_relaunching_sweeps
from gan_lightning.errors import ConfigError, one_line_errors
from gan_lightning.quiet import quiet_library_noise
from gan_lightning.resume import expand_resume, override_key

log = logging.getLogger(__name__)


def _instantiate_all(group: DictConfig | None, **tensorboard_kwargs) -> list:
    """Every `_target_` entry of a group such as callbacks or logger (null/empty -> none)."""
    if not group:
        return []
    return [instantiate(entry, **(tensorboard_kwargs if "TensorBoardLogger" in entry._target_ else {}))
            for entry in group.values() if entry is not None and "_target_" in entry]


def _seed(cfg: DictConfig) -> None:
    seed = cfg.get("seed")
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed={seed!r} is not an integer: use e.g. seed=42, or seed=null for no fixed seed.")
    L.seed_everything(seed, workers=True)


def _use_labels(cfg: DictConfig, datamodule) -> list[str] | None:
    """With conditional=true: the data's class names (label k = k-th name), its batches now
    (images, labels), the mapping logged; None without."""
    conditional = cfg.get("conditional", False)
    if not isinstance(conditional, bool):
        raise ConfigError(f"conditional={conditional!r} must be true or false.")
    if not conditional:
        return None
    names = datamodule.use_labels()
    log.info("Conditional on %d classes (label: name): %s", len(names),
             ", ".join(f"{label}: {name}" for label, name in enumerate(names)))
    return names


def _checkpoint_to_resume(cfg: DictConfig) -> tuple[str, str, str] | None:
    """(path, the key that named it, key=value as the user typed it) of the checkpoint this run
    continues, if any."""
    if cfg.get("resume"):
        run_dir = Path(cfg.resume)
        last = run_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise ConfigError(f"resume={run_dir} has no checkpoints/last.ckpt: that run stopped before its first "
                              f"checkpoint (written after each epoch); start it again without resume=.")
        return str(last), "resume", f"resume={run_dir}"
    if cfg.get("ckpt_path") is not None:
        return str(cfg.ckpt_path), "ckpt_path", f"ckpt_path={cfg.ckpt_path}"
    return None


def _refuse_finished(checkpoint: dict, cfg: DictConfig, named: str) -> None:
    """A ConfigError when the checkpoint has already used the budget this run asks for."""
    state = checkpoint.get("callbacks", {}).get("RunCheckpoint")
    epochs = state["epoch"] + state["epoch_end"] if state else checkpoint.get("epoch", -1) + 1
    steps = checkpoint["state_dict"].get("_extra_state", {}).get("generator_steps", 0)
    max_epochs, max_steps = cfg.trainer.get("max_epochs"), cfg.get("max_generator_steps")
    if max_epochs not in (None, -1) and epochs >= max_epochs:
        key, budget = "trainer.max_epochs", max_epochs
    elif max_steps is not None and steps >= max_steps:
        key, budget = "max_generator_steps", max_steps
    else:
        return
    raise ConfigError(f"{named} is finished: it has trained {epochs} epochs and {steps} generator steps, "
                      f"{key}={budget} allows no more; to train on, raise it, e.g. {key}={2 * budget}.")


def train(cfg: DictConfig) -> float | None:
    """Fit one run; returns its quality number (`hp_metric`, lower is better) for sweeps."""
    quiet_library_noise()
    _seed(cfg)
    resume = _checkpoint_to_resume(cfg)
    checkpoint = read_checkpoint(resume[0], resume[1]) if resume else None
    if cfg.trainer.get("max_steps", -1) not in (-1, None):
        log.warning("trainer.max_steps counts the optimizer steps of both D and G; "
                    "use max_generator_steps to budget generator steps.")

    datamodule = instantiate(cfg.data)
    class_names = _use_labels(cfg, datamodule)
    # _convert_="all": plain dicts/lists in the module's hparams, so checkpoints load
    # with weights_only=True and without Hydra or OmegaConf.
    model = instantiate(cfg.model, image_shape=list(datamodule.image_shape),
                        net=OmegaConf.to_container(cfg.net, resolve=True), loss=cfg.loss.name,
                        reg=OmegaConf.to_container(cfg.reg, resolve=True),
                        augment=OmegaConf.to_container(cfg.augment, resolve=True),
                        num_classes=len(class_names) if class_names else None, class_names=class_names,
                        _convert_="all")
    tensorboard_kwargs = {}
    if checkpoint is not None:
        check_resumable(checkpoint, resume[0], model, datamodule)
        _refuse_finished(checkpoint, cfg, resume[2])
        # Points a killed run logged after this checkpoint are hidden, not drawn twice.
        tensorboard_kwargs["purge_step"] = checkpoint["state_dict"]["_extra_state"]["generator_steps"] + 1
        log.info("Resuming from %s at generator step %d.", resume[0], tensorboard_kwargs["purge_step"] - 1)

    callbacks = _instantiate_all(cfg.get("callbacks"))
    if cfg.get("max_generator_steps") is not None:
        callbacks.append(GeneratorStepBudget(cfg.max_generator_steps))
    loggers = _instantiate_all(cfg.get("logger"), **tensorboard_kwargs)
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

    trainer.fit(model, datamodule=datamodule, ckpt_path=resume[0] if resume else None)
    log.info("finished: %d generator steps, %d critic steps; outputs in %s",
             model.generator_steps, model.critic_steps, cfg.paths.output_dir)
    metric = trainer.callback_metrics.get("hp_metric")
    return None if metric is None else float(metric)


def refuse_unknown_pieces(overrides: list[str]) -> None:
    """A ConfigError for a loss=, reg= or augment= name with no config file (Hydra's own message
    for a name inside a list is a search-path dump)."""
    for override in overrides:
        key, value = override_key(override), override.partition("=")[2]
        if key not in ("loss", "reg", "augment") or not value:
            continue
        known = sorted(entry.name[:-5] for entry in (files("gan_lightning.conf") / key).iterdir()
                       if entry.name.endswith(".yaml"))
        for name in (word.strip() for word in value.strip("[]").split(",")):
            if name and name not in known:
                example = f"{key}=[r1,r2]" if key == "reg" else f"{key}={known[-1]}"
                raise ConfigError(f"Unknown {key} {name!r} in {override}: use one of {', '.join(known)} "
                                  f"(e.g. {example}).")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    with one_line_errors():
        return train(cfg)


def main() -> float | None:
    with one_line_errors():
        sys.argv[1:] = expand_resume(sys.argv[1:])  # resume=RUN_DIR -> that run's own overrides
        refuse_unknown_pieces(sys.argv[1:])
    return _hydra_main()


if __name__ == "__main__":
    main()
