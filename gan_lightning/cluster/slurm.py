"""SLURM: a job that is requeued (a time limit, a preemption) continues its own run.

An sbatch script runs `srun python -m gan_lightning ...`; when SLURM requeues the job it runs
the same script again, with the same job id and SLURM_RESTART_COUNT raised. Two things make
that command continue the run it started instead of starting a new one:

- the run directory is named after the job, not the clock: `slurm-<job id>-<hash of the
  command's overrides>` (`run_stamp`, hydra.run.dir in conf/hydra/default.yaml), so every
  rank of the job and every restart of it name the same folder (and two different commands
  in one job do not);
- before Hydra composes anything, a command that finds its job's folder with a last.ckpt in it
  becomes `resume=<that folder>` (`continue_requeued_job`): the exact resume of any stopped run,
  the same checkpoint kind, the loggers continuing.

SLURM warns of a time limit with a signal chosen in the script (`#SBATCH --signal=USR1@90`):
the run takes SIGUSR1 as it takes Ctrl-C (last.ckpt of this step), then requeues its job with
`scontrol requeue` (`requeue`). Lightning's own SLURM handler, which would write a second kind
of checkpoint (hpc_ckpt_N.ckpt) and requeue on its own, is switched off (`cluster_environment`).
A preemption sends SIGTERM: the run saves and stops, and SLURM requeues the job when the
partition preempts by requeueing. `hydra/launcher=slurm` (submitit) runs its jobs without this
module: its requeue re-runs the pickled job in the same sweep folder.
"""

import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

# Lightning's rule: a job named so is an interactive allocation (salloc, srun --pty bash), not a batch job
INTERACTIVE_NAMES = ("bash", "interactive")


def job_id() -> str | None:
    """This batch job's id (`<array job>_<task>` for an array job), or None outside a SLURM batch job."""
    if not os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_JOB_NAME") in INTERACTIVE_NAMES:
        return None
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]


def check_environment() -> None:
    """Before Hydra starts (so a refused command writes nothing, on any rank): SLURM's variables
    name a job and tasks Lightning can place. SLURM's job ids are numbers (`<job>_<task>` in an
    array): anything else names no job, and in the run folder's name (`7/../..`) could put it anywhere."""
    from gan_lightning.errors import ConfigError

    job = job_id()
    if job is not None and not re.fullmatch(r"[0-9]+(_[0-9]+)?", job):
        raise ConfigError(f"SLURM_JOB_ID={job!r} is not a SLURM job id (a number): run inside a SLURM job, or unset "
                          f"SLURM_JOB_ID (and SLURM_ARRAY_JOB_ID) to train outside one.")
    cluster_environment()


def restart_count() -> int:
    count = os.environ.get("SLURM_RESTART_COUNT", "")
    return int(count) if count.isdigit() else 0


def command_hash(overrides: list[str]) -> str:
    """Six hex digits of the command's overrides (Hydra's own excluded): one per command."""
    task = [o for o in overrides if not o.lstrip("+~").startswith("hydra.")]
    return hashlib.sha256("\n".join(task).encode()).hexdigest()[:6]


def job_folder_name(job: str, overrides: list[str]) -> str:
    return f"slurm-{job}-{command_hash(overrides)}"


def run_stamp(now: str) -> str:
    """hydra.run.dir's last part: the time `now`, or in a SLURM batch job its folder name."""
    job = job_id()
    if job is None:
        return now
    from hydra.core.hydra_config import HydraConfig

    return job_folder_name(job, list(HydraConfig.get().overrides.task))


def continue_requeued_job(arguments: list[str]) -> list[str]:
    """In a SLURM batch job whose folder (under paths.log_dir/runs) already holds a last.ckpt:
    the arguments with `resume=<that folder>` added; else unchanged."""
    from gan_lightning.cli.command_line import hydra_quote, override_key

    job = job_id()
    keys = {override_key(a) for a in arguments}
    if job is None or keys & {"resume", "ckpt_path", "hydra.run.dir"} or any(a.startswith("-") for a in arguments):
        return arguments
    log_dir = next((a.split("=", 1)[1] for a in reversed(arguments) if override_key(a) == "paths.log_dir"), "outputs")
    name = job_folder_name(job, arguments)
    found = [d for d in Path(log_dir.strip("'\"")).expanduser().glob(f"runs/*/{name}")
             if (d / "checkpoints" / "last.ckpt").is_file()]
    if not found:
        return arguments
    run_dir = found[0].absolute()
    return [*arguments, f"resume={hydra_quote(run_dir)}"]


def cluster_environment() -> list:
    """Trainer plugins: in a SLURM job, Lightning's SLURM environment (ranks, world size, the
    main address from SLURM's variables) without its requeue handler, which this run does."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from gan_lightning.errors import ConfigError

    if not SLURMEnvironment.detect():
        return []
    try:
        return [SLURMEnvironment(auto_requeue=False)]
    except RuntimeError as err:  # Lightning's check of srun's variables: --ntasks without --ntasks-per-node
        tasks = os.environ.get("SLURM_NTASKS")
        raise ConfigError(f"This SLURM job sets --ntasks={tasks} without --ntasks-per-node, and Lightning places "
                          f"its processes by tasks per node: submit with --ntasks-per-node={tasks} (one task per "
                          f"device) instead.") from err
    except ValueError as err:  # a variable that is not a number
        raise ConfigError(f"This SLURM job's variables cannot be read ({err}): run inside a job as sbatch and srun "
                          f"set them, or unset the SLURM_* variables to train outside one.") from err


def stop_signals() -> tuple[int, ...]:
    """The signals that stop a run (saving last.ckpt first): in a SLURM batch job also SIGUSR1,
    SLURM's time-limit warning (sbatch --signal=USR1@90)."""
    return (signal.SIGUSR1,) if job_id() is not None else ()


def requeue(run_dir: Path) -> str:
    """Requeue this job (`scontrol requeue <job id>`); the sentence that says what happened."""
    job = job_id()
    if shutil.which("scontrol") is None:
        return (f"SLURM job {job} was not requeued, as scontrol is not on PATH: submit the script again with "
                f"resume={run_dir}")
    # SLURM answers a requeue by ending this job with SIGTERM: the run has saved; ignore it and exit
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    result = subprocess.run(["scontrol", "requeue", job], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        return f"Requeueing failed (scontrol requeue {job}: {reason[0]}): submit the script again with resume={run_dir}"
    return f"Requeued SLURM job {job} (scontrol requeue {job}): the same script continues this run"


def check_tasks(trainer_cfg) -> None:
    """In a SLURM job that starts one task per device (srun): the job's tasks per node and nodes
    agree with trainer.devices and trainer.num_nodes, or one sentence (Lightning's own check is a
    traceback once the trainer is built)."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from gan_lightning.cluster.distributed import device_count
    from gan_lightning.errors import ConfigError

    if job_id() is None or not SLURMEnvironment.detect():
        return
    tasks, nodes = os.environ.get("SLURM_NTASKS_PER_NODE"), os.environ.get("SLURM_NNODES")
    devices, num_nodes = device_count(trainer_cfg), trainer_cfg.get("num_nodes", 1)
    if tasks is not None and tasks.isdigit() and int(tasks) != devices:
        raise ConfigError(f"This SLURM job runs {tasks} tasks per node (--ntasks-per-node={tasks}) and trainer.devices "
                          f"gives {devices} process(es) per node: one task per device, so set trainer.devices={tasks} "
                          f"or submit with --ntasks-per-node={devices}.")
    if nodes is not None and nodes.isdigit() and int(nodes) != num_nodes:
        raise ConfigError(f"This SLURM job has {nodes} node(s) (--nodes={nodes}) and trainer.num_nodes={num_nodes}: "
                          f"set trainer.num_nodes={nodes}, or submit with --nodes={num_nodes}.")
