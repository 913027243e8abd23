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
    total = planned_jobs(sys.argv[1:])
    left = f"{total - number - 1} never started" if total is not None else "the remaining trials never started"
    return (f"\nThe sweep stopped with it: {finished}; job {number} ({job_dir}) stopped; {left} "
            f"(run the sweep's command again for those, into a new sweep directory).")


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
        if sweep_dir.is_dir():
            print(f"The sweep's runs are in {sweep_dir}; one table of them: "
                  f"python -m gan_lightning.compare {shlex.quote(str(sweep_dir))}", file=sys.stderr)
