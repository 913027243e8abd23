"""Checks of the composed config that no single piece can make: top-level keys, the seed, the
trainer's budget and devices. Each failure is one ConfigError naming the key and a value that
works, raised before anything is built (so the refused run leaves nothing behind)."""

import logging
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from gan_lightning.errors import ConfigError, as_typed, require_number

log = logging.getLogger(__name__)
SEED_LIMIT = 2**32  # numpy's seeds, which seed_everything sets too


@cache
def _config_yaml() -> dict:
    """conf/config.yaml, read once: the command line's checks and the composed config's all ask."""
    return OmegaConf.to_container(OmegaConf.load(files("gan_lightning.conf") / "config.yaml"))


def top_level_values() -> frozenset[str]:
    """The keys of conf/config.yaml that hold a value (seed, channels_last, ...), not a group."""
    return frozenset(_config_yaml()) - {"defaults"}


@cache
def known_top_level_keys() -> frozenset[str]:
    """The groups and keys of conf/config.yaml, and Hydra's own."""
    groups = {next(iter(entry)).split("@")[0].removeprefix("optional ").strip() if isinstance(entry, dict) else entry
              for entry in _config_yaml()["defaults"]}
    return frozenset({*groups, *top_level_values(), "hydra"} - {"_self_"})


def refuse_unknown_keys(cfg: DictConfig) -> None:
    """A top-level key nothing reads (`+lr=1e-3`, Hydra's own suggestion after `lr=1e-3` fails)
    would be ignored: refused, naming the key that was probably meant."""
    for key in sorted(set(cfg) - known_top_level_keys()):
        meant = [f"{group}.{key}" for group in sorted(cfg) if isinstance(cfg.get(group), DictConfig)
                 and key in cfg[group]]
        hint = f"did you mean {' or '.join(f'{m}={cfg[key]}' for m in meant)}?" if meant else (
            "no config group has it; python -m gan_lightning --cfg job shows every key.")
        raise ConfigError(f"{key}={cfg[key]} is not a key gan_lightning reads, so it would be ignored: {hint}")


def check_seed(seed) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed={seed!r} is not an integer: use e.g. seed=42, or seed=null for no fixed seed.")
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"seed={seed} is out of range: use an integer from 0 to {SEED_LIMIT - 1}, e.g. seed=42.")


def _typed_overrides() -> list[str]:
    """The overrides of this job as typed (a sweep job's own values), [] outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def check_schedule_finals(cfg: DictConfig, typed: list[str]) -> None:
    """`schedule.final.lr=0.1` typed while schedule.lr is constant would change nothing: refused."""
    schedule = cfg.get("schedule") or {}
    for override in typed:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith("schedule.final."):
            name = key.split(".")[2]
            if schedule.get(name, "cosine") != "cosine":
                raise ConfigError(f"{override} changes nothing while schedule.{name} is {schedule.get(name)}: add "
                                  f"schedule.{name}=cosine to schedule it.")


# Above this a learning rate is a typo (1e6 for 1e-6): every step throws the weights away.
LR_REFUSED = 1.0
# Above this GANs' Adam and RMSprop steps (1e-5 to a few 1e-3: the papers, R3GAN's and this front door's) blow the losses up.
LR_WARNED = 0.01


def check_learning_rate(model: DictConfig) -> None:
    """model.lr far above any GAN's: refused above 1, a warning line above 0.01 (a number at
    all is the model's own check)."""
    lr = model.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        return
    if lr > LR_REFUSED:
        raise ConfigError(f"model.lr={lr} is far above any GAN's learning rate (1e-5 to about 5e-3; above {LR_REFUSED:g} "
                          f"every step throws the weights away): use e.g. model.lr=0.0002.")
    if lr > LR_WARNED:
        log.warning("model.lr=%g is far above the 1e-5 to about 5e-3 that GANs train with: expect the losses to blow up "
                    "(e.g. model.lr=0.0002).", lr)


# What best.ckpt can keep the lowest of: the metrics where lower is better (the others would keep the worst).
MONITORED = ("val/fid", "val/kid")


def check_monitor(cfg: DictConfig, typed: list[str]) -> None:
    """callbacks.checkpoint.monitor must be a metric this run logs and where lower is better;
    otherwise best.ckpt is never written (or keeps the worst)."""
    callbacks = cfg.get("callbacks") or {}
    checkpoint, metrics = callbacks.get("checkpoint") or {}, callbacks.get("metrics") or {}
    monitor = checkpoint.get("monitor")
    if monitor is None:
        return
    measured = [name for name in MONITORED if metrics.get("feature") and name[4:] in metrics.get("metrics", ())]
    if monitor in measured:
        return
    typed_here = any(o.split("=", 1)[0].lstrip("+~") == "callbacks.checkpoint.monitor" for o in typed)
    if not measured and not typed_here:  # the default val/fid with metrics off: no best.ckpt, as documented
        return
    if not measured:
        raise ConfigError(f"callbacks.checkpoint.monitor={monitor} needs the metrics, and "
                          f"callbacks.metrics.feature=null turns them off: drop callbacks.metrics.feature=null, or "
                          f"set callbacks.checkpoint.monitor=null (no best.ckpt).")
    raise ConfigError(f"callbacks.checkpoint.monitor={monitor} is not a metric best.ckpt can keep the lowest of: "
                      f"this run measures {' and '.join(measured)} (e.g. callbacks.checkpoint.monitor={measured[0]}), "
                      f"or set it to null for no best.ckpt.")


def check_search_objective(cfg: DictConfig) -> None:
    """An Optuna search minimises each run's best FID; with the metrics off the critic's
    divergence estimate would stand in, which no search over lr or critic steps can compare."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or "optuna" not in str(HydraConfig.get().sweeper.get("_target_", "")).lower():
        return
    metrics = (cfg.get("callbacks") or {}).get("metrics") or {}
    if not metrics.get("feature"):
        off = "callbacks.metrics.feature=null" if metrics else "callbacks=none"
        raise ConfigError(f"hparams_search=optuna minimises each run's best FID, and {off} turns the metrics off: "
                          f"the critic's divergence estimate that would stand in changes with lr and critic steps "
                          f"whatever the images look like, so drop {off} (callbacks.metrics.num_samples=500 keeps "
                          f"the metrics quick).")


def check_trainer(cfg: DictConfig) -> None:
    trainer = cfg.trainer
    max_epochs = trainer.get("max_epochs")
    if max_epochs is not None and max_epochs != -1:
        require_number("trainer.max_epochs", max_epochs, integer=True, example=10)
    elif cfg.get("max_generator_steps") is None and trainer.get("max_time") is None:  # max_time: a wall-clock budget
        raise ConfigError(f"trainer.max_epochs={max_epochs} sets no budget and max_generator_steps is unset: "
                          f"give one, e.g. trainer.max_epochs=10 or max_generator_steps=5000.")
    schedule = cfg.get("schedule") or {}
    scheduled = [key for key, value in schedule.items() if value == "cosine"]
    if scheduled and schedule.get("steps") is None and cfg.get("max_generator_steps") is None and max_epochs in (None, -1):
        raise ConfigError(f"schedule.{scheduled[0]}=cosine runs over the run's budget in generator steps, and "
                          f"trainer.max_time alone gives none: set schedule.steps=N (generator steps) or "
                          f"max_generator_steps=N.")
    max_time = trainer.get("max_time")  # Lightning's Timer reads DD:HH:MM:SS (or a mapping of timedelta's keys)
    if max_time is not None and not isinstance(max_time, Mapping) and not re.fullmatch(r"\d+:\d+:\d+:\d+", str(max_time)):
        raise ConfigError(f"trainer.max_time={max_time} is not a duration: use DD:HH:MM:SS, e.g. "
                          f"trainer.max_time=00:00:08:00 for 8 minutes, or null for none.")
    require_number("trainer.log_every_n_steps", trainer.get("log_every_n_steps", 50), integer=True, example=10)
    if trainer.get("limit_train_batches") is not None:
        require_number("trainer.limit_train_batches", trainer.limit_train_batches, example=10)  # 0 trains nothing
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator} (trainer=gpu) needs a CUDA GPU, and PyTorch sees none "
                          f"on this machine: use trainer=default (any device) or trainer=cpu.")


# callbacks.health keys that read something a run may not have: {key: (what it needs, present(cfg), the fix)}
HEALTH_NEEDS = {
    **{key: ("the metrics' evaluations, and callbacks.metrics.feature=null turns them off",
             lambda cfg: bool(((cfg.get("callbacks") or {}).get("metrics") or {}).get("feature")),
             "turn the metrics on") for key in ("fid_rise", "spread_floor", "coverage_floor")},
    **{key: ("real images D never trains on, and only data.limit=N holds some out",
             lambda cfg: (cfg.get("data") or {}).get("limit") is not None, "add data.limit=N")
       for key in ("overfit_accuracy", "heldout_images")},
}


def check_health_keys(cfg: DictConfig) -> None:
    """A health threshold typed for an alarm this run cannot raise would change nothing: refused
    (after the callback has checked its values: a bad value is said first)."""
    typed = _typed_overrides()
    health = (cfg.get("callbacks") or {}).get("health")
    if not health:
        return
    for override in typed:
        key = override.split("=", 1)[0].lstrip("+~")
        name = key.removeprefix("callbacks.health.")
        if key.startswith("callbacks.health.") and name in HEALTH_NEEDS and not HEALTH_NEEDS[name][1](cfg):
            needs, _, fix = HEALTH_NEEDS[name]
            raise ConfigError(f"{override} does nothing in this run: its alarm reads {needs}: {fix}, or drop it.")


def check_config(cfg: DictConfig) -> None:
    """Everything above, in the order a user reads the command line."""
    refuse_unknown_keys(cfg)
    check_seed(cfg.get("seed"))
    for key in ("conditional", "channels_last", "compile"):
        value = cfg.get(key, False)
        if not isinstance(value, bool):
            text = " (without quotes: quoted, it is text)" if str(value).lower() in ("true", "false") else ""
            raise ConfigError(f"{key}={as_typed(value)} must be true or false{text}.")
    modes = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
    if cfg.get("compile_mode") is not None and cfg.compile_mode not in modes:
        raise ConfigError(f"compile_mode={cfg.compile_mode!r} is not a torch.compile mode: use one of "
                          f"{', '.join(modes)}, or leave it null.")
    if cfg.get("compile_mode") is not None and not cfg.get("compile"):
        raise ConfigError(f"compile_mode={cfg.compile_mode} does nothing without compile=true: add compile=true, "
                          f"or leave compile_mode out.")
    limit = (cfg.get("data") or {}).get("limit")
    if limit is not None and cfg.get("seed") is None:  # the subset is drawn from the seed
        raise ConfigError(f"data.limit={limit} with seed=null: the {limit} images are drawn from the seed, so a resume "
                          f"or the sampling views could not find the same ones again: set a seed (seed=42, the "
                          f"default).")
    check_learning_rate(cfg.get("model") or {})
    check_trainer(cfg)
    typed = _typed_overrides()
    check_schedule_finals(cfg, typed)
    check_monitor(cfg, typed)
    check_search_objective(cfg)
