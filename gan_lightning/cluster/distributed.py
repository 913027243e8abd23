"""What DDP and Hydra need from a GAN run, decided from the config before Lightning starts.

* A GAN's critic step leaves G without gradients and its G step leaves D without: Lightning's
  plain DDP then fails ("Expected to have finished reduction in the prior iteration"), so
  every DDP strategy runs with find_unused_parameters.
* Lightning's `ddp` relaunches the command line in each child process; under a Hydra sweep
  (`-m`) that relaunches the whole sweep in every child (Lightning #11617). Sweeps must use
  `ddp_spawn`, or a launcher that starts the processes itself (SLURM).
"""

import os
from collections.abc import Sequence

import torch
from omegaconf import DictConfig

from gan_lightning.errors import ConfigError

# Lightning's registered names for the same strategies with find_unused_parameters=True.
UNUSED_PARAMETER_SAFE = {
    "ddp": "ddp_find_unused_parameters_true",
    "ddp_spawn": "ddp_spawn_find_unused_parameters_true",
    "ddp_fork": "ddp_fork_find_unused_parameters_true",
    "ddp_notebook": "ddp_notebook_find_unused_parameters_true",
}


def use_cached_cuda_check_without_a_driver() -> None:
    """Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1: torch then asks NVML for GPUs, which leaves
    forked processes able to use CUDA. Without an NVIDIA driver NVML never loads, torch tries
    again at every check, and Adam checks at every optimizer step (0.07 ms each on the 2-core
    CPU). With no driver there is no CUDA for a fork to spoil: the runtime's check, whose
    answer is cached, is used instead (what torch falls back to when NVML fails anyway)."""
    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1":
        return
    try:
        no_nvml = torch.cuda._device_count_nvml() < 0  # private torch: the only way to ask NVML alone
    except Exception:  # keep Lightning's setting if it moves
        return
    if no_nvml:
        del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]


def device_count(trainer_cfg: DictConfig) -> int:
    """How many processes per node Lightning will start for these trainer settings."""
    devices, accelerator = trainer_cfg.get("devices", "auto"), trainer_cfg.get("accelerator", "auto")
    if isinstance(devices, str) and devices not in ("auto", "-1"):
        devices = [d for d in devices.split(",") if d.strip()] if "," in devices else int(devices)
    if isinstance(devices, Sequence) and not isinstance(devices, str):
        return len(devices)
    if devices in ("auto", "-1", -1):
        gpus = torch.cuda.device_count() if accelerator in ("auto", "gpu", "cuda") else 0
        return gpus if gpus > 0 and (devices != "auto" or accelerator != "cpu") else 1
    return int(devices)


def gan_strategy(trainer_cfg: DictConfig) -> str:
    """The trainer's strategy, with DDP made safe for alternating D and G backward passes."""
    strategy = trainer_cfg.get("strategy", "auto")
    if not isinstance(strategy, str):
        return strategy
    several = device_count(trainer_cfg) > 1 or trainer_cfg.get("num_nodes", 1) > 1
    if strategy == "auto" and several:
        strategy = "ddp"
    return UNUSED_PARAMETER_SAFE.get(strategy, strategy)


def refuse_relaunching_sweeps(trainer, multirun: bool) -> None:
    """Stop a sweep whose DDP strategy would re-run the command line (and so the sweep) per rank."""
    # private Lightning: no public way to ask whether a strategy re-runs the command line per rank
    from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher

    launcher = getattr(trainer.strategy, "launcher", None)
    environment = getattr(trainer.strategy, "cluster_environment", None)
    relaunches = isinstance(launcher, _SubprocessScriptLauncher) and not (
        environment is not None and environment.creates_processes_externally)
    if multirun and relaunches:
        raise ConfigError(
            "A sweep (-m) with trainer.strategy=ddp would relaunch the whole sweep in every DDP process "
            "(Lightning #11617): use trainer.strategy=ddp_spawn for sweeps, or hydra/launcher=slurm, "
            "which starts each job's processes itself."
        )


def any_rank(trainer, *flags: bool) -> tuple[bool, ...]:
    """Each flag, true if it is true on any DDP rank: for decisions every rank must take
    together (a save has a barrier)."""
    if trainer.world_size == 1:
        return flags
    reduced = trainer.strategy.reduce(torch.tensor(flags, dtype=torch.float32, device=trainer.strategy.root_device),
                                      reduce_op="max")
    return tuple(bool(flag) for flag in reduced)
