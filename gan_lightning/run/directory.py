"""Reading a finished run directory back: config, scalars, grids, checkpoints, data (for notebooks)."""

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf


def _event_files(log_dir: str | Path) -> list[Path]:
    """The event files in the order they were written: by the second and the writer's number in
    their names (events.out.tfevents.<time>.<host>.<pid>.<n>); in text order writer 10 of one
    process comes before writer 9 of the same second."""
    def written(path: Path) -> tuple:
        parts = path.name.split(".")
        return (int(parts[3]) if parts[3].isdigit() else 0, int(parts[-1]) if parts[-1].isdigit() else 0, path.name)

    return sorted(Path(log_dir).glob("events.out.tfevents.*"), key=written)


def read_events(log_dir: str | Path) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[int]]]:
    """({scalar tag: [(step, value), ...]}, {image tag: [step, ...]}), without what a resumed
    writer purged (SummaryWriter's purge_step: every point from its step on, written before it)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from tensorboard.compat.proto.event_pb2 import SessionLog

    scalars: dict[str, list] = {}
    images: dict[str, list] = {}
    for path in _event_files(log_dir):
        for event in LegacyEventFileLoader(str(path)).Load():
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                for points in scalars.values():
                    points[:] = [p for p in points if p[0] < event.step]
                for steps in images.values():
                    steps[:] = [s for s in steps if s < event.step]
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
                elif value.HasField("image"):
                    images.setdefault(value.tag, []).append(event.step)
    return {tag: points for tag, points in scalars.items() if points}, {tag: s for tag, s in images.items() if s}


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from the TensorBoard event files in `log_dir`."""
    return read_events(log_dir)[0]


class RunDir:
    """A `python -m gan_lightning` run directory, with relative paths resolved against the
    directory the run was launched from."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        hydra = OmegaConf.load(self.path / ".hydra" / "hydra.yaml").hydra
        self.launch_dir = Path(hydra.runtime.cwd)
        self.data_name = hydra.runtime.choices.data
        self.model_name = hydra.runtime.choices.model
        self.config = OmegaConf.load(self.path / ".hydra" / "config.yaml")
        for key in ("data_dir", "log_dir"):
            self.config.paths[key] = str(self.launch_dir / self.config.paths[key])
        self.config.paths.output_dir = str(self.path)

    @property
    def data_dir(self) -> Path:
        return Path(self.config.paths.data_dir)

    @property
    def classifier_path(self) -> Path:
        """Where the metrics callback keeps the digit classifier for this run's data."""
        return self.data_dir / "classifiers" / f"{self.data_name}.pt"

    def scalars(self) -> dict[str, list[tuple[int, float]]]:
        return read_scalars(self.path / "tensorboard")

    def checkpoint(self) -> Path:
        """best.ckpt (lowest FID) when the run has one, else last.ckpt."""
        best = self.path / "checkpoints" / "best.ckpt"
        return best if best.is_file() else self.path / "checkpoints" / "last.ckpt"

    def grids(self) -> list[Path]:
        return sorted((self.path / "samples").glob("*.png"))

    def datamodule(self):
        """The run's datamodule, as configured (data.root resolved against the launch directory)."""
        data = OmegaConf.to_container(self.config.data, resolve=True)
        root = Path(data["root"]).expanduser()
        data["root"] = str(root if root.is_absolute() else self.launch_dir / root)
        return instantiate(data)
