"""CIFAR-10: torchvision's 50,000 training images, 3x32x32, in 10 classes (conditional=true).

torchvision downloads and checks the archive (prepare_data, once); the images are then read
straight from its on-disk batches (`cifar-10-batches-py/data_batch_1..5`, pickled uint8 rows)
into one tensor, without torchvision's per-image PIL dataset.
"""

import pickle
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_lightning.data.base import InMemoryImageDataModule
from gan_lightning.errors import ConfigError

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as file:
        return pickle.load(file, encoding="latin1")


class CIFAR10DataModule(InMemoryImageDataModule):
    """CIFAR-10's training split under `root`/cifar-10-batches-py, downloaded there if missing."""

    image_shape = (3, 32, 32)
    name = "CIFAR10"

    def __init__(self, root: str = "data", batch_size: int = 64, download: bool = True, image_size: int = 32,
                 limit: int | None = None):
        super().__init__(root, batch_size, limit)
        if image_size != 32:  # a key, so that presets sized for 32 pixels (model=r3gan) compose with it
            raise ConfigError(f"data.image_size={image_size}: CIFAR-10's images are 32x32; use data.image_size=32.")
        self.download = download

    @property
    def folder(self) -> Path:
        return self.root / FOLDER

    def _missing(self) -> list[str]:
        return [name for name in [*TRAIN_BATCHES, "batches.meta"] if not (self.folder / name).is_file()]

    def prepare_data(self) -> None:
        if not self._missing():
            return
        detail = "data.download=false"
        if self.download:
            from torchvision.datasets import CIFAR10

            try:
                CIFAR10(str(self.root), train=True, download=True)
                return
            except (RuntimeError, OSError) as err:
                detail = "could not be downloaded: " + (str(err).splitlines()[0] if str(err) else type(err).__name__)
        raise ConfigError(f"CIFAR-10 is not in data.root={self.root} ({detail}); connect to the internet, or put "
                          f"the extracted cifar-10-python.tar.gz ({FOLDER}/) under {self.root}.")

    @cached_property
    def _batches(self) -> tuple[Tensor, Tensor]:
        self.prepare_data()  # a DDP rank or a sampling process that skipped it still gets the one-sentence refusal
        try:
            batches = [_unpickle(self.folder / name) for name in TRAIN_BATCHES]
            rows = np.concatenate([batch["data"] for batch in batches])
            labels = np.concatenate([batch["labels"] for batch in batches])
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
            raise ConfigError(f"{self.folder} holds an unreadable CIFAR-10 batch ({type(err).__name__}: {err}); "
                              f"delete the folder and let data.download=true fetch it again.") from err
        images = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.uint8)).view(-1, 3, 32, 32)
        return images, torch.from_numpy(labels.astype(np.int64))

    def load_images(self) -> Tensor:
        return self._batches[0]

    def load_labels(self) -> Tensor:
        return self._batches[1]

    def class_names(self) -> list[str]:
        self.prepare_data()
        return list(_unpickle(self.folder / "batches.meta")["label_names"])
