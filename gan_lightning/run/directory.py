"""Reading a finished run directory back: config, scalars, grids, checkpoints, data (for notebooks)."""

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from the TensorBoard event files in `log_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def read_image_steps(log_dir: str | Path) -> dict[str, list[int]]:
    """{image tag: [step, ...]} from the TensorBoard event files in `log_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"images": 0})
    events.Reload()
    return {tag: [e.step for e in events.Images(tag)] for tag in events.Tags()["images"]}


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
