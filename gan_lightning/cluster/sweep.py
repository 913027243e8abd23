"""A sweep stopped part-way (Ctrl-C, SIGTERM) says where each of its jobs stands.

Hydra's basic launcher runs a sweep's jobs one after another in one process, so a signal
that stops one job stops the sweep. The stop message then lists the jobs that finished, the
one that stopped (its checkpoint and resume command are in the message already) and how many
never started.
"""

import hashlib
import shlex
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

_finished: dict[str, list[str]] = {}  # sweep directory -> output directories of its finished jobs


def in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def in_own_process_job() -> bool:
    """A sweep job that submitit runs in a process of its own (hydra/launcher=slurm, submitit_local)."""
    import os

    return in_sweep() and "SUBMITIT_EXECUTOR" in os.environ


def stopped_jobs(sweep_dir: Path) -> list[Path]:
    """The job folders of `sweep_dir` whose train.log ends their last attempt stopped, not finished."""
    stopped = []
    for log in sorted(sweep_dir.glob("*/train.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if " - finished: " in line or " - Stopped by " in line or "nothing left to train" in line]
        if lines and " - Stopped by " in lines[-1]:
            stopped.append(log.parent)
    return stopped


def job_finished(output_dir: str) -> None:
    if in_sweep():
        _finished.setdefault(HydraConfig.get().sweep.dir, []).append(output_dir)


def planned_jobs(arguments: list[str]) -> int | None:
    """How many jobs the command line's comma lists and ranges make (None when a search decides)."""
    try:
        overrides = OverridesParser.create().parse_overrides(
            [a for a in arguments if "=" in a and not a.startswith("-")])
    except Exception:  # noqa: BLE001 - an estimate only; Hydra itself has parsed these already
        return None
    total = 1
    for override in overrides:
        if override.is_sweep_override():
            if override.is_discrete_sweep():
                total *= len(list(override.sweep_string_iterator()))
            else:
                return None  # an interval: Optuna or another sampler decides the trials
    return total


def stop_report(job_dir: str) -> str:
    """A second line for the stop message: which jobs finished, which stopped, how many never started
    ('' outside a sweep)."""
    if not in_sweep():
        return ""
    number = HydraConfig.get().job.num
    done = _finished.get(HydraConfig.get().sweep.dir, [])
    finished = f"{len(done)} finished ({', '.join(done)})" if done else "none finished before it"
    search = "optuna" in str(OmegaConf.select(HydraConfig.get(), "sweeper._target_", default="")).lower()
    total = None if search else planned_jobs(sys.argv[1:])
    left = f"{total - number - 1} never started" if total is not None else "the remaining trials never started"
    if search:  # its trials are drawn as it goes: no command brings back the same ones
        return (f"\nThe search stopped with it: {finished}; trial {number} ({job_dir}) stopped; {left}. Each "
                f"trial's run continues with resume=<its folder>; the search itself starts again from the beginning.")
    sweep_dir = shlex.quote(str(Path(HydraConfig.get().sweep.dir).absolute()))
    return (f"\nThe sweep stopped with it: {finished}; job {number} ({job_dir}) stopped; {left}. Finish the sweep "
            f"(the stopped job continues, the finished ones are skipped): python -m gan_lightning resume={sweep_dir}")


# File names stop at 255 bytes: a sweep over many keys would name its job folders beyond that.
MAX_DIRNAME_BYTES = 200


def job_dirname(number: int, overrides: str) -> str:
    """`<job number>_<the job's overrides>`, shortened (with a digest, so names stay distinct)
    when too long for a folder name: hydra.sweep.subdir's resolver."""
    name = f"{number}_{overrides}"
    if len(name.encode()) <= MAX_DIRNAME_BYTES:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[:MAX_DIRNAME_BYTES - 10].decode(errors="ignore") + f"..{digest}"


class SweepFinished(Callback):
    """At a sweep's end: where its runs are, and the command that tables them."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        stopped = stopped_jobs(sweep_dir) if sweep_dir.is_dir() else []
        if stopped:  # jobs in processes of their own (submitit) stop alone: the sweep ends, and says so
            print(f"gan_lightning: {len(stopped)} job(s) of the sweep stopped before their budget "
                  f"({', '.join(p.name.split('_')[0] for p in stopped)}; each train.log says why). Finish the sweep "
                  f"(stopped jobs continue, finished ones are skipped): python -m gan_lightning "
                  f"resume={shlex.quote(str(sweep_dir.absolute()))}", file=sys.stderr)
            sys.exit(1)
        if sweep_dir.is_dir():
            print(f"The sweep's runs are in {sweep_dir}; one table of them: "
                  f"python -m gan_lightning.compare {shlex.quote(str(sweep_dir))}", file=sys.stderr)


# Set by `resume=<sweep dir>` for the jobs it runs again: each continues in its own folder
# (run/resume.py, continuation), a finished one is skipped, one that never started starts.
CONTINUE_SWEEP = "GAN_LIGHTNING_CONTINUE_SWEEP"


def is_sweep_dir(path: Path) -> bool:
    """A sweep's folder: its multirun.yaml, or (an Optuna search writes none) job folders of runs."""
    return not (path / ".hydra").is_dir() and ((path / "multirun.yaml").is_file()
                                               or any(path.glob("*/.hydra/overrides.yaml")))


def resume_sweep(sweep_dir: Path, others: list[str], read_saved) -> list[str]:
    """`resume=<sweep dir>`: the sweep's own command again, into its own folder (the same job
    numbers and folders), with CONTINUE_SWEEP set for its jobs. `read_saved` reads a saved yaml."""
    import os

    from gan_lightning.cli.command_line import hydra_quote, override_key
    from gan_lightning.errors import ConfigError

    if not (sweep_dir / "multirun.yaml").is_file():
        raise ConfigError(f"resume={sweep_dir} holds runs but no multirun.yaml, as an Optuna search leaves them (its "
                          f"trials are drawn as it goes, so it cannot be restarted): continue a trial's run with "
                          f"resume=<its folder>, or start the search again.")
    try:
        hydra = read_saved(sweep_dir / "multirun.yaml").get("hydra") or {}
    except ConfigError as err:
        raise ConfigError(f"{sweep_dir / 'multirun.yaml'} cannot be read, and it holds the sweep's command "
                          f"({str(err).split(' cannot be read ')[-1].split(': mend')[0].strip('()')}): continue each "
                          f"job's run with resume=<its folder>.") from None
    if not isinstance(hydra, dict):
        raise ConfigError(f"{sweep_dir / 'multirun.yaml'} holds no sweep command: continue each job's run with "
                          f"resume=<its folder>.")
    overrides = hydra.get("overrides") or {}
    task, hydra_overrides = list(overrides.get("task") or []), list(overrides.get("hydra") or [])
    if others:
        raise ConfigError(f"resume={sweep_dir} runs that sweep's own command again and takes nothing beside it "
                          f"({' '.join(others)}): to change the sweep, start a new one.")
    if "optuna" in str((hydra.get("sweeper") or {}).get("_target_", "")).lower():
        raise ConfigError(f"resume={sweep_dir} is an Optuna search, whose trials are drawn as it goes and not "
                          f"stored for a restart: start the search again (each trial's run can be resumed with "
                          f"resume=<its folder>).")
    from gan_lightning.models.checkpoint_file import read_checkpoint

    for last in sorted(sweep_dir.glob("*/checkpoints/last.ckpt")):  # a damaged job is named before anything is written
        try:
            read_checkpoint(last, "resume")
        except ConfigError as err:
            raise ConfigError(f"{str(err).rstrip('.')}; so resume={sweep_dir} would stop at that job: move its "
                              f"folder out of the sweep folder to train it again, or resume the other jobs one by one.") from None
    os.environ[CONTINUE_SWEEP] = str(sweep_dir)
    kept = [o for o in hydra_overrides if override_key(o) not in ("hydra.mode", "hydra.sweep.dir")]
    return ["-m", *kept, *task, f"hydra.sweep.dir={hydra_quote(sweep_dir)}"]
