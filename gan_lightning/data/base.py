"""Serving a data set that fits in memory: one uint8 tensor, one index op per batch.

No per-sample PIL work and no per-sample collate: a batch is `images[indices]` (uint8, so a
quarter of the float bytes cross to the GPU), normalised to [-1, 1] after the transfer.
"""

from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gan_lightning.errors import ConfigError


def to_signed_unit(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1] (the seeds' ToTensor + Normalize(0.5, 0.5))."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded: the inverse of to_signed_unit (PNG, npz, Inception)."""
    return images.float().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)


class ImageTensorDataset(Dataset):
    """Indexable view of a (N, C, H, W) uint8 tensor; `__getitems__` fetches a batch at once."""

    def __init__(self, images: Tensor):
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index]

    def __getitems__(self, indices: list[int]) -> Tensor:
        return self.images[torch.as_tensor(indices)]


def _already_batched(batch: Tensor) -> Tensor:
    return batch


class InMemoryImageDataModule(L.LightningDataModule):
    """Base for data sets held as one uint8 tensor; subclasses define `load_images`.

    `image_shape` (C, H, W) is known from the config alone, so the model can be built
    before any data is read (and before DDP processes start).
    """

    image_shape: tuple[int, int, int]
    name = "data"

    def __init__(self, root: str = "data", batch_size: int = 64):
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} must be a positive integer.")
        self.root = Path(root).expanduser()
        self.batch_size = batch_size
        self.images: Tensor | None = None

    def load_images(self) -> Tensor:
        """All training images as a (N, C, H, W) uint8 tensor."""
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        images = self.load_images()
        if images.shape[0] < self.batch_size:
            raise ConfigError(
                f"data.batch_size={self.batch_size} is larger than the {images.shape[0]} images of "
                f"{self.name}: lower data.batch_size."
            )
        self.images = images

    def real_images(self, n: int, seed: int = 0) -> Tensor:
        """`n` training images (all, if fewer), uint8, a fixed random choice: the metrics' real set."""
        order = torch.randperm(self.images.shape[0], generator=torch.Generator().manual_seed(seed))
        return self.images[order[:n]]

    def train_dataloader(self) -> DataLoader:
        # The standard batch_size/shuffle form (not a batch_sampler), so Lightning can swap in
        # a DistributedSampler under DDP; the fetcher still hands __getitems__ the whole
        # batch of indices. drop_last: every step sees a full batch.
        return DataLoader(ImageTensorDataset(self.images), batch_size=self.batch_size, shuffle=True,
                          drop_last=True, collate_fn=_already_batched, pin_memory=torch.cuda.is_available())

    def on_after_batch_transfer(self, batch: Tensor, dataloader_idx: int) -> Tensor:
        return to_signed_unit(batch)
