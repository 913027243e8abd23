"""One run per run directory: a lock taken before Hydra writes anything into it.

Two runs started into the same `hydra.run.dir` (or a `resume=` of a run that is still
running) would interleave train.log, overwrite each other's config, grids and checkpoints,
and share one TensorBoard run. The first holds an exclusive lock on `<run dir>/.lock` for
its whole life (the operating system releases it when the process ends, however it ends);
the second is refused in one sentence. Registered as a Hydra callback in conf/hydra/default.yaml.
"""

import fcntl
import os
import sys
import weakref
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gan_lightning.run.record import take_snapshot

LOCK_NAME = ".lock"
_HELD: list[weakref.finalize] = []  # this process's locks, for release_held()


def launched_rank() -> int:
    """The rank a launcher gave this process before it started (DDP children, SLURM tasks), else 0."""
    for name in ("LOCAL_RANK", "SLURM_PROCID", "RANK"):
        if os.environ.get(name, "0") not in ("", "0"):
            return int(os.environ[name])
    return 0


def _release(handle, path: Path) -> None:
    """Remove the lock file if it is still this process's (a refused resume puts back the one it
    found), and let go of the lock."""
    try:
        if path.is_file() and path.read_text() == f"pid {os.getpid()}":
            path.unlink()
    finally:
        handle.close()


def release_held() -> None:
    """Let go of every lock this process holds: the entry point's end, for a caller that goes on
    in the same process (a notebook, the tests) as a process exit would."""
    while _HELD:
        _HELD.pop()()


class RunDirLock(Callback):
    def __init__(self) -> None:
        self.handle = None
        self.path: Path | None = None

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        if launched_rank() != 0:  # the other ranks of a `ddp` run share rank zero's directory
            return
        HydraConfig.instance().set_config(config)  # for ${hydra:...} in the run directory's name
        run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir"))).absolute()
        take_snapshot(run_dir)  # before anything is written: a refused run is undone from it
        self._lock(run_dir, "hydra.run.dir")

    def _lock(self, run_dir: Path, key: str) -> None:
        self._refuse_a_file_in_the_way(run_dir, key)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            self.handle = open(run_dir / LOCK_NAME, "a+")
        except OSError as err:
            self._refuse(f"{key}={run_dir} cannot be written ({err.strerror}): run from a writable "
                         f"directory, or set paths.log_dir=... or hydra.run.dir=... to a writable folder.")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.seek(0)
            owner = self.handle.read().strip() or "another process"
            self._refuse(f"A run ({owner}) is still running in {run_dir}: wait for it to finish, stop it, or "
                         f"start this one in another directory (leave hydra.run.dir unset for a new one).")
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()}")
        self.handle.flush()
        self.path = run_dir / LOCK_NAME
        # however the run ends (a stop exits before on_run_end): at exit, or when this lock is dropped
        self._release = weakref.finalize(self, _release, self.handle, self.path)
        _HELD.append(self._release)

    # A sweep: the lock's job (one run per directory) is Hydra's there, as every job gets a folder
    # of its own; a job refused before training still leaves nothing behind.

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        HydraConfig.instance().set_config(config)
        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir"))).absolute()
        self._refuse_a_file_in_the_way(sweep_dir, "hydra.sweep.dir")
        self.sweep_made = [p for p in (sweep_dir, *sweep_dir.parents) if not p.exists()]  # innermost first

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        from hydra.types import RunMode

        if config.hydra.mode != RunMode.MULTIRUN or launched_rank() != 0:
            return
        job_dir = Path(config.hydra.runtime.output_dir).absolute()
        made = getattr(self, "sweep_made", None)
        if made:  # jobs of a sweep this command started in a new folder
            take_snapshot(job_dir, new_parents=made)
        # a job's folder is one run's too: a resume of it (or of its sweep) while it runs is refused
        self._lock(job_dir, "hydra.sweep.dir")

    def on_job_end(self, config: DictConfig, **kwargs) -> None:
        from hydra.types import RunMode

        if self.path is not None and config.hydra.mode == RunMode.MULTIRUN:
            self._release()
            self.path = self.handle = None

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        if self.path is not None:
            self._release()
            self.path = self.handle = None

    def _refuse_a_file_in_the_way(self, folder: Path, key: str) -> None:
        file = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if file is not None:
            self._refuse(f"{key}={folder} cannot be made: {file} is a file, not a folder: give {key} a folder "
                         f"(a new one, or leave it unset for a new one under outputs/).")

    @staticmethod
    def _refuse(message: str) -> None:
        print(f"gan_lightning: {message}", file=sys.stderr)
        sys.exit(2)
