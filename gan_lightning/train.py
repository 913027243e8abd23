"""Entry point: compose the config, build datamodule, module, callbacks and loggers, fit.

    python -m gan_lightning model=wgan_gp data=mnist trainer.max_epochs=5
    python -m gan_lightning resume=outputs/runs/wgan_gp-mnist/<time> trainer.max_epochs=10
"""

import logging
import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Checkpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf
from torch.nn.modules.batchnorm import _BatchNorm

from gan_lightning.callbacks import EpochProgressBar, GeneratorStepBudget
from gan_lightning.cli.command_line import check_command_line
from gan_lightning.cli.config_checks import check_config, check_health_keys
from gan_lightning.cluster import slurm
from gan_lightning.cluster.distributed import (
    gan_strategy,
    refuse_relaunching_sweeps,
    use_cached_cuda_check_without_a_driver,
)
from gan_lightning.cluster.slurm import cluster_environment, run_stamp
from gan_lightning.cluster.sweep import in_own_process_job, in_sweep, job_dirname, job_finished, stop_report
from gan_lightning.errors import ConfigError, RunStopped, one_line_errors
from gan_lightning.loggers import RecordHparams
from gan_lightning.run.lock import release_held
from gan_lightning.run.no_profiler import NoProfiler
from gan_lightning.run.quiet import quiet_library_noise, quiet_sweeper_plugins
from gan_lightning.run.record import KeepRunOnceTraining, undo_refused_run
from gan_lightning.run.resume import (
    ConfigRecord,
    again_in_place,
    check_resumable,
    continuation,
    drop_partial_records,
)
from gan_lightning.run.signals import stop_at_once

log = logging.getLogger(__name__)
OmegaConf.register_new_resolver("job_dirname", job_dirname, replace=True)  # hydra.sweep.subdir
OmegaConf.register_new_resolver("run_stamp", run_stamp, replace=True)  # hydra.run.dir: the time, or the SLURM job


def _instantiate_all(group: DictConfig | None) -> list:
    """Every `_target_` entry of a group such as callbacks or logger (null/empty -> none)."""
    if not group:
        return []
    return [instantiate(entry) for entry in group.values() if entry is not None and "_target_" in entry]


def _use_labels(cfg: DictConfig, datamodule) -> list[str] | None:
    """With conditional=true: the data's class names (label k = k-th name), its batches now
    (images, labels), the mapping logged; None without."""
    if not cfg.get("conditional", False):
        return None
    names = datamodule.use_labels()
    log.info("Conditional on %d classes (label: name): %s", len(names),
             ", ".join(f"{label}: {name}" for label, name in enumerate(names)))
    return names


def hydra_choices() -> dict:
    """{group: option} this run composed (model=dcgan, data=mnist5k, ...); {} outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}


def _refuse_single_image_batches(cfg: DictConfig, datamodule, model) -> None:
    """BatchNorm in training mode needs two images per batch; with one it fails at the first step."""
    if datamodule.batch_size < 2 and any(isinstance(m, _BatchNorm) for m in model.modules()):
        raise ConfigError(f"data.batch_size={datamodule.batch_size} is too small for the BatchNorm layers of "
                          f"net={cfg.net.name}, which need two images per batch: use data.batch_size=2 or more.")


def train(cfg: DictConfig) -> float | None:
    """Fit one run; returns its quality number (`hp_metric`, lower is better) for sweeps."""
    quiet_library_noise()
    use_cached_cuda_check_without_a_driver()
    check_config(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True, verbose=False)  # the seed is in the config; no line of its own
    resume = continuation(cfg)
    # started again in place (a resumed sweep's job, a requeued SLURM job): a finished run is a success, not an error
    again = resume is not None and (resume.in_place or (resume.key == "resume" and slurm.restart_count() > 0))
    if again and resume.finished(cfg):
        log.info("%s had finished its budget before: nothing left to train, skipped.", cfg.paths.output_dir)
        return None
    if resume is None and again_in_place(Path(cfg.paths.output_dir)):
        drop_partial_records(Path(cfg.paths.output_dir))
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
                        schedule=OmegaConf.to_container(cfg.schedule, resolve=True),
                        num_classes=len(class_names) if class_names else None, class_names=class_names,
                        _convert_="all")
    _refuse_single_image_batches(cfg, datamodule, model)
    if cfg.get("channels_last"):
        model.use_channels_last()
    if cfg.get("compile"):
        model.compile_when_fitting(cfg.get("compile_mode"))
    config_record = ConfigRecord(cfg)
    if resume is not None:
        if resume.key == "resume":  # the same run goes on: nothing but the budget may change (named key by key)
            resume.refuse_changes(config_record.config)
        check_resumable(resume.checkpoint, resume.path, model, datamodule)
        resume.refuse_if_finished(cfg)

    callbacks = [*_instantiate_all(cfg.get("callbacks")), KeepRunOnceTraining(), config_record]
    check_health_keys(cfg)
    if cfg.get("max_generator_steps") is not None:
        callbacks.append(GeneratorStepBudget(cfg.max_generator_steps))
    loggers = _instantiate_all(cfg.get("logger"))
    for logger in loggers:
        if resume is not None and hasattr(logger, "continue_after"):
            logger.continue_after(resume.generator_steps)
    if loggers:  # the run's hyperparameters, the composed config's included, instead of the model's alone
        model._log_hyperparams = False  # private Lightning: no public switch once the module is built
        callbacks.append(RecordHparams(cfg, hydra_choices()))
    multirun = in_sweep()
    progress_bar = cfg.trainer.get("enable_progress_bar")
    if ((not multirun) if progress_bar is None else progress_bar) and not any(
            isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(EpochProgressBar())
    slurm.check_tasks(cfg.trainer)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                          strategy=gan_strategy(cfg.trainer),
                          profiler=cfg.trainer.get("profiler") or NoProfiler(),
                          **({} if cfg.trainer.get("plugins") else {"plugins": cluster_environment() or None}),
                          # no checkpoint callback configured (callbacks=none): no checkpoints at all,
                          # rather than Lightning's default epoch=N-step=M.ckpt
                          enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
                          # null = on for a single run, off in sweeps (one job's bar per line floods the log)
                          enable_progress_bar=(not multirun) if progress_bar is None else progress_bar)
    refuse_relaunching_sweeps(trainer, multirun)
    if resume is not None:  # (said once every check has passed: a refused resume never says it)
        if slurm.job_id() is not None and slurm.restart_count() > 0:
            log.info("SLURM job %s, restart %d: continuing this run.", slurm.job_id(), slurm.restart_count())
        log.info("Resuming from %s at generator step %d.", resume.path, resume.generator_steps)

    trainer.fit(model, datamodule=datamodule, ckpt_path=resume.path if resume else None)
    if trainer.is_global_zero:
        log.info("finished: %d generator steps, %d critic steps; outputs in %s",
                 model.generator_steps, model.critic_steps, cfg.paths.output_dir)
    # hp_metric is the metrics callback's; without that callback, the critic's divergence estimate
    metric = trainer.callback_metrics.get("hp_metric", trainer.callback_metrics.get("train/divergence"))
    return None if metric is None else float(metric)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    with one_line_errors(undo_refused_run=undo_refused_run):
        try:
            result = train(cfg)
        except RunStopped as stopped:
            if in_own_process_job():  # a submitit job: the others go on, the sweep's end lists it (cluster/sweep.py)
                log.error("%s", stopped)
                return None
            stopped.note = stop_report(cfg.paths.output_dir)  # in a sweep, the sweep stops too: where each job stands
            raise
        job_finished(cfg.paths.output_dir)
        return result


def main() -> float | None:
    stop_at_once()  # Ctrl-C from here on is one line and exit 130, never a traceback
    quiet_sweeper_plugins()
    try:
        with one_line_errors(undo_refused_run=undo_refused_run):
            sys.argv[1:] = check_command_line(sys.argv[1:])  # resume=RUN_DIR -> that run's own overrides
            return _hydra_main()
    finally:
        release_held()


if __name__ == "__main__":
    main()
