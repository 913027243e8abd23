"""A refused command writes nothing; a run that fails keeps its error in train.log.

Hydra makes the run directory, writes `.hydra/*.yaml` and opens train.log before the task
runs, so a command refused by the template's own checks (a bad value, a resume that would
change the run, a finished run) would leave a new run directory behind, or rewrite a resumed
run's saved config. The run-directory lock takes a `Snapshot` before Hydra writes anything;
when the run is refused before its first training step, `undo_refused_run` puts the directory
back as it was: a new one is removed (with the parents made for it), an existing one gets its
files back byte for byte and loses the files the refused command added.
"""

import logging
import os
import shutil
from pathlib import Path

import lightning as L

# Files a refused resume may have rewritten, restored from their bytes (and times).
RESTORED = (".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml", ".lock")


class Snapshot:
    def __init__(self, run_dir: Path, new_parents: list[Path] | None = None):
        """`new_parents`: for a sweep job, whose folder Hydra makes before any callback sees it,
        the folders this sweep made (the job's folder is then new too)."""
        self.run_dir = run_dir
        self.existed = run_dir.exists() and new_parents is None
        self.new_parents = new_parents if new_parents is not None else [p for p in run_dir.parents if not p.exists()]
        self.files: dict[Path, tuple[int, int]] = {}  # (atime, mtime) of each file, to put back
        self.saved: dict[str, bytes] = {}
        self.log_size: int | None = None
        if self.existed:  # (a new directory is removed whole: nothing to remember of it)
            for path in run_dir.rglob("*"):
                if path.is_file():
                    stat = path.stat()
                    self.files[path] = (stat.st_atime_ns, stat.st_mtime_ns)
            self.saved = {name: (run_dir / name).read_bytes() for name in RESTORED if (run_dir / name).is_file()}
            log = run_dir / "train.log"
            self.log_size = log.stat().st_size if log.is_file() else None
        self.training_started = False

    def restore(self) -> bool:
        """Put the directory back as the snapshot found it; False when training had already written to it."""
        if self.training_started:
            return False
        _close_log_files(self.run_dir)
        if not self.existed:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            for parent in self.new_parents:  # innermost first; a sweep's own multirun.yaml does not count
                if parent.is_dir() and all(p.name == "multirun.yaml" for p in parent.iterdir()):
                    shutil.rmtree(parent)
            return True
        for path in sorted(self.run_dir.rglob("*"), reverse=True):  # files before their folders
            if path.is_file() and path not in self.files:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()) and not any(f.is_relative_to(path) for f in self.files):
                path.rmdir()
        for name, data in self.saved.items():
            (self.run_dir / name).write_bytes(data)
        log = self.run_dir / "train.log"
        if self.log_size is None:
            log.unlink(missing_ok=True)
        elif log.is_file():
            with open(log, "r+b") as file:
                file.truncate(self.log_size)
        for path, times in self.files.items():  # the times too: nothing looks touched
            if path.is_file():
                os.utime(path, ns=times)
        return True


_current: Snapshot | None = None


def take_snapshot(run_dir: Path, new_parents: list[Path] | None = None) -> Snapshot:
    """Called by the lock before Hydra writes into `run_dir` (rank zero of a single run), or as a
    sweep job starts in a folder the sweep made."""
    global _current
    _current = Snapshot(run_dir, new_parents)
    return _current


def undo_refused_run() -> bool:
    """After a refusal: the run directory as it was before this command (True if it was put back)."""
    global _current
    snapshot, _current = _current, None
    return snapshot is not None and snapshot.restore()


class KeepRunOnceTraining(L.Callback):
    """From the first training step on, a run's directory is a record to keep, whatever stops it:
    a refusal after that point no longer undoes the run."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if _current is not None:
            _current.training_started = True


def _close_log_files(run_dir: Path) -> None:
    for handler in list(logging.getLogger().handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(run_dir):
            handler.close()
            logging.getLogger().removeHandler(handler)
