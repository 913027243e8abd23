"""One run directory read back for a comparison: what defines it (its overrides), how it stands
(finished, running, failed with its error line, stopped, or killed), and its evaluations.

Reads only what runs write: `.hydra/overrides.yaml` and `config.yaml`, `train.log`, the `.lock`
of a live run, and the scalars of its TensorBoard event files (or `csv/metrics.csv` under
logger=csv). A run still training is read as far as it has come.
"""

import csv
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from itertools import takewhile
from pathlib import Path

import yaml

from gan_lightning.errors import ConfigError
from gan_lightning.run.lock import LOCK_NAME

# The quality numbers compared, as the metrics callback logs them (val/<name>); lower is better for the first two.
METRICS = ("fid", "kid", "is", "precision", "recall", "density", "coverage")
# Overrides that say where a run is written, how it was continued or what it shows, not what it computes.
NOT_SETTINGS = ("hydra.", "paths.", "resume", "ckpt_path", "logger", "trainer.enable_progress_bar",
                "trainer.enable_model_summary", "trainer.log_every_n_steps", "callbacks.checkpoint.",
                "callbacks.sample_grid.", "data.num_workers")
LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\]\[[^\]]*\]\[(\w+)\] - (.*)$")


@dataclass
class Run:
    path: Path
    settings: dict[str, str]            # override key -> value, as typed (seed included)
    config: dict                        # the composed config, for keys a run did not type
    choices: dict                       # the config groups' options it composed (model=..., data=...)
    status: str = "incomplete"          # finished | running | stopped (a signal; resumable) | failed | incomplete
    error: str | None = None            # the failed run's error line
    evaluations: list[dict] = field(default_factory=list)  # [{"step": G step, "fid": ..., ...}] in order
    generator_steps: int = 0
    damage: str | None = None           # what of the run's record cannot be read
    alarms: list[str] = field(default_factory=list)  # its health alarms' names, in order (train.log)
    seconds: float | None = None        # wall time: the first to the last event written (TensorBoard), else train.log's lines

    @property
    def metrics_off(self) -> bool:
        """The run measured nothing: callbacks.metrics.feature=null (or callbacks=none)."""
        if "callbacks" not in self.config:  # a config without the group says nothing either way
            return False
        metrics = (self.config["callbacks"] or {}).get("metrics")
        return not metrics or metrics.get("feature") is None

    @property
    def seed(self):
        return self.settings.get("seed", self.config.get("seed"))

    @property
    def best(self) -> dict | None:
        """The evaluation with the lowest FID (what best.ckpt holds), all its numbers."""
        return min(self.evaluations, key=lambda e: e["fid"]) if self.evaluations else None

    @property
    def final(self) -> dict | None:
        return self.evaluations[-1] if self.evaluations else None

    def setting(self, key: str) -> str:
        """The value of `key` for this run: typed, else its group's option or the composed config's, else '-'."""
        if key in self.settings:
            return self.settings[key]
        if key in self.choices:
            return str(self.choices[key])
        node = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return "-"
            node = node[part]
        if isinstance(node, bool) or node is None:  # as typed on a command line (conditional=true), not Python's True
            return "null" if node is None else str(node).lower()
        return str(node)


def find_runs(paths: list[str]) -> list[Path]:
    """Every run directory (a folder with .hydra/config.yaml) at or under `paths`."""
    found = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise ConfigError(f"{given} does not exist: give run directories or a sweep's directory, "
                              f"e.g. outputs/multiruns/<time>.")
        found += sorted(config.parent.parent for config in path.glob("**/.hydra/config.yaml"))
    if not found:
        raise ConfigError(f"No runs in {' '.join(paths)}: a run directory has .hydra/config.yaml; give one, or a "
                          f"sweep's directory, e.g. outputs/multiruns/<time>.")
    return list(dict.fromkeys(found))


def _yaml(run_dir: Path, name: str, kind: type):
    path = run_dir / ".hydra" / name
    try:
        value = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        reason = type(err).__name__
        raise ConfigError(f"{run_dir} is half-written or damaged: .hydra/{name} cannot be read ({reason}); "
                          f"leave that run out (a run that is just starting writes it within seconds).") from err
    if not isinstance(value, kind):
        raise ConfigError(f"{run_dir} is half-written or damaged: .hydra/{name} holds no {kind.__name__}; "
                          f"leave that run out (a run that is just starting writes it within seconds).")
    return value


def read_run(run_dir: Path) -> Run:
    settings = {}
    for override in _yaml(run_dir, "overrides.yaml", list):
        key, _, value = str(override).lstrip("+").partition("=")
        if not key.startswith("~") and not key.startswith(NOT_SETTINGS):
            settings[key] = value
    hydra = _yaml(run_dir, "hydra.yaml", dict).get("hydra", {})
    choices = (hydra.get("runtime") or {}).get("choices") or {}
    run = Run(run_dir, settings, _yaml(run_dir, "config.yaml", dict), choices)
    _read_log(run)
    _read_scalars(run)
    return run


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _read_log(run: Run) -> None:
    """Status, error line and wall time from train.log (and the lock of a live run)."""
    log = run.path / "train.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    times, last_error = [], None
    for number, line in enumerate(lines):
        match = LOG_LINE.match(line)
        if not match:
            continue
        times.append(datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"))
        if match[2] == "ERROR":  # a one-line error, or a traceback whose last line names it
            last_error = match[3]
            if last_error.startswith("Traceback"):
                following = takewhile(lambda text: not LOG_LINE.match(text), lines[number + 1:])
                last_error = ([text.strip() for text in following if text.strip()] or [last_error])[-1]
        elif match[3].startswith("finished:"):
            run.status, last_error = "finished", None
            steps = re.match(r"finished: (\d+) generator steps", match[3])
            run.generator_steps = int(steps[1]) if steps else run.generator_steps
        elif match[3].startswith("Health alarm ("):
            run.alarms.append(match[3][len("Health alarm ("):].split(")", 1)[0])
        elif match[3].startswith("Resuming from"):
            run.status = "incomplete"
    if times:
        run.seconds = (times[-1] - times[0]).total_seconds()
    lock = run.path / LOCK_NAME
    pid = lock.read_text().removeprefix("pid ").strip() if lock.is_file() else ""
    if pid.isdigit() and _alive(int(pid)):
        run.status = "running"
    elif last_error is not None and run.status != "finished":
        # Ctrl-C or SIGTERM: stopped with its checkpoint, not failed (a divergence or a crash is)
        run.status = "stopped" if last_error.startswith("Stopped") else "failed"
        run.error = last_error


def _read_scalars(run: Run) -> None:
    scalars = _tensorboard_scalars(run.path / "tensorboard") or _csv_scalars(run.path / "csv" / "metrics.csv")
    span = _event_span(run.path / "tensorboard")
    if span is not None:
        run.seconds = span
    steps = int(max((step for points in scalars.values() for step, _ in points), default=0))
    recorded = any((run.path / "tensorboard").glob("events.out.tfevents.*")) or (run.path / "csv").is_dir()
    if recorded and run.status == "finished" and steps == 0 and run.generator_steps > 0:  # train.log says it trained
        run.damage = "its TensorBoard and CSV scalars cannot be read (cut short or removed); G steps from train.log"
    run.generator_steps = max(steps, run.generator_steps)
    by_step: dict[int, dict] = {}
    for name in METRICS:
        for step, value in scalars.get(f"val/{name}", []):
            by_step.setdefault(int(step), {"step": int(step)})[name] = value
    run.evaluations = [e for _, e in sorted(by_step.items()) if "fid" in e]


def _tensorboard_scalars(log_dir: Path) -> dict:
    if not any(log_dir.glob("events.out.tfevents.*")):
        return {}
    from gan_lightning.run.directory import read_scalars

    return read_scalars(log_dir)


def _event_span(log_dir: Path) -> float | None:
    """Seconds from the first to the last summary (hparams, scalars, grids) in the run's event
    files: fit start to the last point logged, a resume's pause included."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    times = [event.wall_time for path in sorted(log_dir.glob("events.out.tfevents.*"))
             for event in EventFileLoader(str(path)).Load() if event.HasField("summary")]
    return max(times) - min(times) if times else None


def _csv_scalars(path: Path) -> dict:
    if not path.is_file():
        return {}
    scalars: dict[str, list] = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            if not row.get("step"):
                continue
            for name, value in row.items():
                if name != "step" and value not in ("", None):
                    scalars.setdefault(name, []).append((int(float(row["step"])), float(value)))
    return scalars
