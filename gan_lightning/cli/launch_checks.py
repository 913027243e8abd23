"""Checks of a sweep's command line, made before Hydra starts: the SLURM launcher and the Optuna
search fail inside Hydra before any job runs (so no job's own check can speak), with tracebacks
and a multirun folder left behind."""

import shutil

from gan_lightning.errors import ConfigError

SLURM_COMMANDS = ("sbatch", "srun")  # submitit submits with sbatch and refuses to start without srun


def _value(arguments: list[str], key: str) -> str | None:
    """The value typed last for `key` (`hydra/launcher`, `hydra.sweeper.n_trials`), None if not typed."""
    values = [a.split("=", 1)[1] for a in arguments if "=" in a and a.split("=", 1)[0].lstrip("+~") == key]
    return values[-1] if values else None


def is_multirun(arguments: list[str]) -> bool:
    """-m, or a config that turns it on itself (hparams_search=optuna sets hydra.mode=MULTIRUN)."""
    return (any(a in ("-m", "--multirun") for a in arguments) or _value(arguments, "hparams_search") is not None
            or str(_value(arguments, "hydra.mode")).upper() == "MULTIRUN")


def composed_trainer(arguments: list[str]):
    """The trainer config these arguments compose (only trainer=, trainer.* and experiment= matter)."""
    from hydra import compose, initialize_config_module

    kept = [a for a in arguments if "=" in a and not a.startswith("-") and "," not in a.split("=", 1)[1]
            and a.split("=", 1)[0].lstrip("+~").split(".")[0] in ("trainer", "experiment")]
    with initialize_config_module("gan_lightning.conf", version_base="1.3"):
        return compose("config", overrides=kept).trainer


# The SLURM launcher's sizes and the trainer keys they must equal (conf/hydra/launcher/slurm.yaml sets them so)
LAUNCHER_SIZES = {"hydra.launcher.nodes": "trainer.num_nodes", "hydra.launcher.tasks_per_node": "trainer.devices",
                  "hydra.launcher.gpus_per_node": "trainer.devices"}


def refuse_disagreeing_slurm_sizes(arguments: list[str]) -> None:
    """hydra.launcher.nodes / tasks_per_node / gpus_per_node typed apart from trainer.num_nodes /
    trainer.devices: Lightning starts one process per device and expects one SLURM task each."""
    for launcher_key, trainer_key in LAUNCHER_SIZES.items():
        asked = _value(arguments, launcher_key)
        if asked is None or "${" in asked:
            continue
        typed = _value(arguments, trainer_key)
        if typed is None:
            try:
                typed = str(composed_trainer(arguments).get(trainer_key.split(".")[1]))
            except Exception:  # noqa: BLE001 - a config that does not compose is refused, with its own sentence, later
                return
        if typed != asked:
            raise ConfigError(f"{launcher_key}={asked} but {trainer_key}={typed}: Lightning runs one process per "
                              f"device on each node, one SLURM task each, so they must agree; set {trainer_key}="
                              f"{asked} (the launcher follows it) and drop {launcher_key}.")


def refuse_slurm_without_slurm(arguments: list[str]) -> None:
    """hydra/launcher=slurm: a sweep (-m), on a machine with SLURM, with a number of devices."""
    if _value(arguments, "hydra/launcher") != "slurm":
        return
    refuse_disagreeing_slurm_sizes(arguments)
    if not is_multirun(arguments):
        raise ConfigError("hydra/launcher=slurm submits the jobs of a sweep, and without -m this command would train "
                          "here instead: add -m (python -m gan_lightning -m hydra/launcher=slurm ...).")
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        raise ConfigError(f"hydra/launcher=slurm submits each job with SLURM's {' and '.join(SLURM_COMMANDS)}, and "
                          f"{missing[0]} is not on this machine's PATH: run the command on the cluster's login node, "
                          f"or drop hydra/launcher=slurm to train here.")
    if _value(arguments, "trainer.devices") is not None:  # typed: SLURM's own check reads it as typed
        return
    try:
        devices = composed_trainer(arguments).devices
    except Exception:  # noqa: BLE001 - a config that does not compose is refused, with its own sentence, later
        return
    if isinstance(devices, bool) or not isinstance(devices, int):
        raise ConfigError(f"hydra/launcher=slurm asks SLURM for trainer.devices GPUs (one task each) per node, and "
                          f"trainer.devices is {devices!r}: set the number, e.g. trainer.devices=1.")


def refuse_empty_search(arguments: list[str]) -> None:
    """hydra.sweeper.n_trials below 1: Optuna then has no best trial and fails at the end."""
    typed = _value(arguments, "hydra.sweeper.n_trials")
    if typed is None:
        return
    if not typed.strip().lstrip("-").isdigit():
        raise ConfigError(f"hydra.sweeper.n_trials={typed} is not a whole number of trials: use e.g. "
                          f"hydra.sweeper.n_trials=20.")
    if int(typed) < 1:
        raise ConfigError(f"hydra.sweeper.n_trials={typed} runs no trial, so the search has no best run to report: "
                          f"use 1 or more, e.g. hydra.sweeper.n_trials=20.")


# Hydra's flags that show the config or help and launch nothing.
SHOW_ONLY = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc")


def check_launch(arguments: list[str]) -> None:
    if any(a in SHOW_ONLY for a in arguments):
        return
    refuse_slurm_without_slurm(arguments)
    refuse_empty_search(arguments)
