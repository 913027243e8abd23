"""Serving a data set that fits in memory: one uint8 tensor, one index op per batch.

No per-sample PIL work and no per-sample collate: a batch is `images[indices]` (uint8, so a
quarter of the float bytes cross to the GPU), normalised to [-1, 1] after the transfer.
"""

import logging
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from gan_lightning.errors import ConfigError


def to_signed_unit(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1] (the seeds' ToTensor + Normalize(0.5, 0.5))."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded: the inverse of to_signed_unit (PNG, npz, Inception)."""
    return images.float().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def class_shares(labels: Tensor, classes: int) -> Tensor:
    """Each class's share of `labels` (float64, on the CPU)."""
    return torch.bincount(labels.cpu(), minlength=classes).double() / len(labels)


class ImageTensorDataset(Dataset):
    """Indexable view of a (N, C, H, W) uint8 tensor (and its (N,) labels, when given);
    `__getitems__` fetches a batch at once."""

    def __init__(self, images: Tensor, labels: Tensor | None = None):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, Tensor]:
        return self.images[index] if self.labels is None else (self.images[index], self.labels[index])

    def __getitems__(self, indices: list[int]) -> Tensor | tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices)  # index_select: 5x faster than images[index] on a CPU
        images = self.images.index_select(0, index)
        return images if self.labels is None else (images, self.labels.index_select(0, index))


def _already_batched(batch: Tensor) -> Tensor:
    return batch


class ResumableShuffle(Sampler[int]):
    """A new random order each epoch, from (seed, epoch) alone, that can start part-way.

    The order does not draw from the global random stream (whose state a checkpoint restores
    for the noise), and `resume_at(epoch, batches)` makes that epoch's iteration skip the
    batches a checkpoint had already trained on: a resumed run sees the same batches as one
    that never stopped. Lightning calls `set_epoch` at the start of every epoch.
    """

    def __init__(self, size: int, batch_size: int, seed: int):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.epoch = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches already trained)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_at(self, epoch: int, batches: int) -> None:
        self._resume = (epoch, batches)

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        skip = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            skip = self._resume[1] * self.batch_size
            self._resume = None
        return iter(order[skip:].tolist())


def fixed_choice(size: int, n: int | None, seed: int) -> Tensor:
    """`n` of `size` indices (all, with None) in a random order fixed by `seed`."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]


def subset(size: int, n: int, seed: int, labels: Tensor | None = None) -> Tensor:
    """`n` of `size` indices, a fixed random choice for `seed`; with `labels`, as many of each class
    as the classes allow (they differ by one at most, unless a class runs out)."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(size, generator=generator)
    if labels is None:
        return order[:n].sort().values
    # each image's place among its class in the random order: take the first of every class, then the second...
    shuffled = labels[order]
    place = torch.zeros(size, dtype=torch.long)
    for label in shuffled.unique():
        members = (shuffled == label).nonzero().flatten()
        place[members] = torch.arange(len(members))
    by_place = torch.sort(place * size + torch.arange(size)).indices  # stable: ties keep the random order
    return order[by_place[:n]].sort().values


class InMemoryImageDataModule(L.LightningDataModule):
    """Base for data sets held as one uint8 tensor; subclasses define `load_images`.

    `image_shape` (C, H, W) is known from the config alone, so the model can be built
    before any data is read (and before DDP processes start). After `use_labels()`
    (conditional=true) batches are (images, labels); a subclass with class labels defines
    `class_names` and `load_labels`.
    """

    image_shape: tuple[int, int, int]
    name = "data"

    def __init__(self, root: str = "data", batch_size: int = 64, limit: int | None = None):
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} must be a positive integer.")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"data.limit={limit!r} must be a positive whole number of images (null: all of them).")
        # data.limit: train on this many images (the rest are held out; the metrics still see all)
        self.limit = limit
        self.all_images: Tensor | None = None
        self._heldout: Tensor | None = None
        self.root = Path(root).expanduser()
        self.batch_size = batch_size
        self.images: Tensor | None = None
        self.sampler: ResumableShuffle | None = None
        self.shuffle_seed: int | None = None
        self._resume: tuple[int, int] | None = None
        self.conditional = False
        self.labels: Tensor | None = None

    def load_images(self) -> Tensor:
        """All training images as a (N, C, H, W) uint8 tensor."""
        raise NotImplementedError

    def class_names(self) -> list[str]:
        """The name of each class, by label (a ConfigError for data without class labels)."""
        raise ConfigError(f"{self.name} has no class labels here, so conditional=true cannot be used with it: "
                          f"use data=mnist5k, data=mnist or data=folder with one subfolder per class.")

    def load_labels(self) -> Tensor:
        """The (N,) int64 class of each image of load_images()."""
        raise NotImplementedError

    def use_labels(self) -> list[str]:
        """Serve (images, labels) batches from now on (conditional=true); returns the class names."""
        names = self.class_names()
        self.conditional = True
        return names

    def class_frequencies(self) -> Tensor:
        """Each class's share of the training images."""
        return class_shares(self.labels, len(self.class_names()))

    def draw_labels(self, n: int) -> Tensor:
        """`n` class labels drawn with the data's class frequencies: what conditional samples that
        are compared with the data (FID, KID) are asked to draw."""
        return torch.multinomial(self.class_frequencies().float(), n, replacement=True)

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        images = self.load_images()
        if images.shape[0] < self.batch_size:
            raise ConfigError(
                f"data.batch_size={self.batch_size} is larger than the {images.shape[0]} images of "
                f"{self.name}: lower data.batch_size."
            )
        labels = self.load_labels() if self.conditional or (self.limit and self._has_labels()) else None
        self.all_images = images
        if self.limit is not None:
            chosen, held = self.choose_limited(images.shape[0], labels)
            self._heldout = images[held]
            images, labels = images[chosen], None if labels is None else labels[chosen]
        self.images = images
        if self.conditional:
            self.labels = labels

    def choose_limited(self, size: int, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        """(data.limit's indices among `size` images, class-balanced with `labels` and drawn from the
        run's seed; the others, held out), or a ConfigError when the limit cannot be met."""
        if self.limit > size:
            raise ConfigError(f"data.limit={self.limit} is more than the {size:,} images of {self.name}: lower it, "
                              f"or leave it out to train on all of them.")
        if self.limit < self.batch_size:
            raise ConfigError(f"data.limit={self.limit} is fewer images than one batch "
                              f"(data.batch_size={self.batch_size}): raise it or lower data.batch_size.")
        if self.limit == size:
            logging.getLogger(__name__).warning(
                "data.limit=%d is all %s images of %s: none is held out, so the d_overfits health alarm and the "
                "sampling CLI's C_T have no unseen images to compare with.", self.limit, f"{size:,}", self.name)
        chosen = subset(size, self.limit, torch.initial_seed(), labels)
        held = torch.ones(size, dtype=torch.bool)
        held[chosen] = False
        return chosen, held.nonzero().flatten()

    def _has_labels(self) -> bool:
        try:
            self.class_names()
        except ConfigError:
            return False
        return True

    def heldout_images(self, n: int | None = None) -> Tensor | None:
        """Up to `n` (default all) real images left out of training by data.limit (a fixed choice), or None."""
        if self._heldout is None or len(self._heldout) == 0:
            return None
        return self._heldout[fixed_choice(len(self._heldout), n, seed=0)]

    def real_images(self, n: int, seed: int = 0, training_only: bool = False) -> Tensor:
        """`n` images of the data set (all, if fewer), uint8, a fixed random choice: the metrics' real set.
        Under data.limit they come from the whole data set, unless `training_only`."""
        pool = self.images if training_only or self.all_images is None else self.all_images
        return pool[fixed_choice(pool.shape[0], n, seed)]

    def shuffle(self, size: int) -> ResumableShuffle:
        """The training order over `size` items: its seed is fixed by seed_everything (random
        without a seed) and saved in checkpoints with the datamodule's state."""
        if self.sampler is None or self.sampler.size != size:
            if self.shuffle_seed is None:
                self.shuffle_seed = torch.initial_seed() % 2**62
            self.sampler = ResumableShuffle(size, self.batch_size, self.shuffle_seed)
        if self._resume is not None:
            self.sampler.resume_at(*self._resume)
            self._resume = None
        return self.sampler

    def private_generator(self) -> torch.Generator:
        """For DataLoader(generator=...): a loader draws its workers' base seed at every epoch's
        start, and from the global stream without one, which would shift the noise that
        follows (and make a resumed run differ from one that never stopped)."""
        return torch.Generator().manual_seed(self.shuffle_seed or 0)

    def resume_at(self, epoch: int, batches: int) -> None:
        """Start epoch `epoch`'s order after its first `batches` batches (a mid-epoch checkpoint)."""
        self._resume = (epoch, batches)

    def state_dict(self) -> dict:
        return {} if self.shuffle_seed is None else {"shuffle_seed": self.shuffle_seed}

    def load_state_dict(self, state: dict) -> None:
        if "shuffle_seed" in state:
            self.shuffle_seed, self.sampler = int(state["shuffle_seed"]), None

    def train_dataloader(self) -> DataLoader:
        # The standard batch_size/sampler form (not a batch_sampler), so Lightning can wrap the
        # sampler for DDP; the fetcher still hands __getitems__ the whole batch of indices.
        # drop_last: every step sees a full batch.
        return DataLoader(ImageTensorDataset(self.images, self.labels), batch_size=self.batch_size,
                          sampler=self.shuffle(self.images.shape[0]), generator=self.private_generator(), drop_last=True,
                          collate_fn=_already_batched, pin_memory=torch.cuda.is_available())

    def on_after_batch_transfer(self, batch, dataloader_idx: int) -> Tensor | tuple[Tensor, Tensor]:
        if self.conditional:
            images, labels = batch
            return to_signed_unit(images), labels
        return to_signed_unit(batch)
