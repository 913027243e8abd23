"""The checkpoint a run continues from (`resume=RUN_DIR` or `ckpt_path=`), checked before
anything trains: it must exist, be a gan_lightning checkpoint of this model and data
(check_resumable, below) and have budget left; a resumed run must also be the same run.

The checkpoint is the record of what trained: every checkpoint carries the composed config
(`ConfigRecord`) beside the model's hyperparameters. A resume whose config differs from that
record, in the model's hyperparameters or any key beyond the budget and the keys that do not
change the trained weights (`MAY_CHANGE`), is refused, naming each key with both values,
whether the change was typed or edited into the run's .hydra/overrides.yaml.
"""

import logging
import os
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from gan_lightning.conf import flatten
from gan_lightning.errors import ConfigError
from gan_lightning.models.checkpoint_file import describe, read_checkpoint

# What a resume may change: the budget, and keys that do not change the trained weights
# (display, logging and checkpoint intervals, the loggers, the profiler, the metrics' interval, sample count and
# choice, data-loader workers, where things are written, the health watch: it reads, never trains).
MAY_CHANGE = ("trainer.max_epochs", "max_generator_steps", "trainer.enable_progress_bar",
              "trainer.enable_model_summary", "trainer.log_every_n_steps", "callbacks.checkpoint.every_n_minutes",
              "callbacks.checkpoint.every_n_generator_steps", "callbacks.metrics.every_n_epochs",
              "callbacks.metrics.num_samples", "callbacks.metrics.batch_size", "callbacks.metrics.metrics",
              "callbacks.metrics.precision_recall_k", "callbacks.metrics.density_coverage_k",
              "callbacks.sample_grid.every_n_epochs", "data.num_workers", "resume", "ckpt_path", "paths.", "logger.",
              "channels_last", "compile", "compile_mode", "trainer.profiler", "callbacks.health")


log = logging.getLogger(__name__)


class ConfigRecord(L.Callback):
    """Writes the composed config into every checkpoint, as {"dotted.key": value}."""

    def __init__(self, cfg: DictConfig):
        self.config = flatten(OmegaConf.to_container(cfg, resolve=True))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint.setdefault("gan_lightning", {})["config"] = self.config


def _differences(recorded: dict, current: dict, prefix: str = "") -> list[str]:
    """'key: recorded -> current' for each key both hold with another value, but the keys that may change."""
    return [f"{prefix}{key}: {recorded[key]!r} -> {current[key]!r}" for key in sorted(recorded.keys() & current.keys())
            if recorded[key] != current[key] and not f"{prefix}{key}".startswith(MAY_CHANGE)]


class Continuation:
    """The checkpoint at `path`, named on the command line by `key` (resume | ckpt_path)."""

    in_place = False  # a run started again in its own directory, not named by resume= or ckpt_path=

    def __init__(self, path: str, key: str, typed: str):
        self.path, self.key, self.typed = path, key, typed
        self.checkpoint = read_checkpoint(path, key)

    @property
    def generator_steps(self) -> int:
        return self.checkpoint["state_dict"]["_extra_state"]["generator_steps"]

    def finished(self, cfg: DictConfig) -> tuple[str, int, int, int, int] | None:
        """(budget key, its value, what was trained of it, epochs, steps) when the checkpoint has
        already used the budget this run asks for, else None."""
        checkpoint = self.checkpoint
        state = checkpoint.get("callbacks", {}).get("RunCheckpoint")
        epochs = state["epoch"] + state["epoch_end"] if state else checkpoint.get("epoch", -1) + 1
        steps = checkpoint["state_dict"].get("_extra_state", {}).get("generator_steps", 0)
        max_epochs, max_steps = cfg.trainer.get("max_epochs"), cfg.get("max_generator_steps")
        if max_epochs not in (None, -1) and epochs >= max_epochs:
            return "trainer.max_epochs", max_epochs, epochs, epochs, steps
        if max_steps is not None and steps >= max_steps:
            return "max_generator_steps", max_steps, steps, epochs, steps
        return None

    def refuse_if_finished(self, cfg: DictConfig) -> None:
        """A ConfigError when the checkpoint has already used the budget this run asks for."""
        if self.finished(cfg) is None:
            return
        key, budget, trained, epochs, steps = self.finished(cfg)
        raise ConfigError(f"{self.typed} is finished: it has trained {epochs} epoch{'s' * (epochs != 1)} and {steps} "
                          f"generator step{'s' * (steps != 1)}, "
                          f"{key}={budget} allows no more; to train on, raise it above {trained}, "
                          f"e.g. {key}={2 * trained}.")

    def refuse_changes(self, current: dict) -> None:
        """A ConfigError naming every key whose value differs from what the checkpoint trained with;
        `current` is this run's composed config as ConfigRecord keeps it."""
        record = self.checkpoint["gan_lightning"]["config"]
        # a run directory moved or copied elsewhere: paths inside it move with it
        moved = record.get("paths.output_dir"), current.get("paths.output_dir")
        record = {key: value.replace(*moved, 1) if isinstance(value, str) and None not in moved
                  and value.startswith(moved[0]) else value for key, value in record.items()}
        changes = _differences(record, current)
        if changes:
            raise ConfigError(f"{self.typed} would not continue the same run: {'; '.join(changes)} (the checkpoint's "
                              f"value first; typed, or edited into {Path(self.path).parents[1] / '.hydra' / 'overrides.yaml'}). "
                              f"A resume may change only the budget (trainer.max_epochs, max_generator_steps) and "
                              f"what does not change the weights; start a new run to change the rest.")


def continuation(cfg: DictConfig) -> Continuation | None:
    """The checkpoint this run continues from, read and checked, if any."""
    if cfg.get("resume"):
        run_dir = Path(cfg.resume)
        last = run_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise ConfigError(f"resume={run_dir} has no checkpoints/last.ckpt: that run stopped before its first "
                              f"checkpoint (written after each epoch); start it again without resume=.")
        return Continuation(str(last), "resume", f"resume={run_dir}")
    if cfg.get("ckpt_path") is not None:
        return Continuation(str(cfg.ckpt_path), "ckpt_path", f"ckpt_path={cfg.ckpt_path}")
    run_dir = Path(cfg.paths.output_dir)
    if again_in_place(run_dir) and (run_dir / "checkpoints" / "last.ckpt").is_file():
        continued = Continuation(str(run_dir / "checkpoints" / "last.ckpt"), "resume", f"resume={run_dir}")
        continued.in_place = True
        return continued
    return None


def again_in_place(run_dir: Path) -> bool:
    """Whether this run is one started again in its own directory: a job of a resumed sweep
    (resume=<sweep dir>), or a requeued SLURM job (SLURM_RESTART_COUNT above 0)."""
    from gan_lightning.cluster import slurm
    from gan_lightning.cluster.sweep import CONTINUE_SWEEP

    sweep = os.environ.get(CONTINUE_SWEEP)
    return slurm.restart_count() > 0 or (sweep is not None and Path(sweep).absolute() in run_dir.absolute().parents)


def check_resumable(checkpoint: dict, path: str, model, datamodule) -> None:
    """A ConfigError naming both sides when `checkpoint` was not written by a run like this one."""
    hparams = checkpoint["hyper_parameters"]
    stamp = checkpoint.get("gan_lightning", {})
    ours = {key: model.hparams.get(key) for key in ("net", "image_shape", "latent_dim", "optimizer", "class_names")}
    theirs = {key: hparams.get(key) for key in ours}
    theirs["image_shape"] = list(theirs["image_shape"])
    ours["image_shape"] = list(ours["image_shape"])
    same_variant = stamp.get("variant", type(model).__name__) == type(model).__name__
    same_data = stamp.get("data") in (None, getattr(datamodule, "name", None))
    if not (same_variant and same_data and ours == theirs):
        differs = [f"{key}.{sub}: {theirs[key].get(sub)!r} -> {ours[key].get(sub)!r}"
                   for key in ours if isinstance(ours[key], dict) and isinstance(theirs[key], dict)
                   for sub in sorted({*ours[key], *theirs[key]}) if ours[key].get(sub) != theirs[key].get(sub)]
        differs += [key for key in ours if ours[key] != theirs[key] and not isinstance(ours[key], dict)]
        detail = f" (they differ in {'; '.join(differs)})" if differs else ""
        raise ConfigError(
            f"ckpt_path={path} holds {describe(stamp.get('variant'), hparams, stamp.get('data'))}, but this run is "
            f"{describe(type(model).__name__, model.hparams, getattr(datamodule, 'name', None))}{detail}: "
            f"resume with resume=<run directory>, which reuses that run's config, or give the same model, net "
            f"and data overrides.")


PARTIAL_RECORDS = ("tensorboard", "csv", "samples")


def drop_partial_records(run_dir: Path) -> None:
    """A run started again in its own directory before its first checkpoint: the logger files of
    the attempt that was cut short go, so that its steps are not recorded twice."""
    import shutil

    left = [run_dir / name for name in PARTIAL_RECORDS if (run_dir / name).exists()]
    if left:
        log.info("Starting again in %s (it stopped before its first checkpoint): removed the records of that "
                 "attempt (%s).", run_dir, ", ".join(p.name for p in left))
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
