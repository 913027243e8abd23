"""Any folder of images (nested folders fine), decoded by worker processes.

With conditional=true each first-level subfolder of data.root is a class (sorted by name:
class k is the k-th); without it the folder names are ignored.

Each image is decoded (JPEGs at reduced scale when that is enough), converted to the set's
mode (RGBA, palette and grayscale files included), resized on its shorter side and center
cropped, as in the DCGAN seed; batches travel as uint8 and are normalised on the device.
An unreadable file is replaced in its batch by a readable neighbour and reported once, by
name, with a running count: a bad file never stops an epoch.

With `cache=true` the decoded set is written once as one uint8 tensor file and later
epochs and runs skip decoding entirely (served like MNIST, from memory).
"""

import hashlib
import logging
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gan_lightning.data.base import InMemoryImageDataModule, class_shares, to_signed_unit
from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)

# A run of this many unreadable files in a row is a broken folder, not a stray bad file.
MAX_UNREADABLE_RUN = 64
# A class with fewer images than this is a stray folder, not a class G could learn.
MIN_IMAGES_PER_CLASS = 10

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def find_images(root: Path) -> list[Path]:
    """Every image file under `root`, sorted; a ConfigError when there is none."""
    if not root.exists():
        raise ConfigError(f"data.root={root} does not exist: point data.root at a folder of images.")
    if not root.is_dir():
        raise ConfigError(f"data.root={root} is a file: point data.root at the folder that holds the images.")
    files = [p for p in root.rglob("*") if p.is_file()]
    images = sorted(p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        if files:
            kinds = ", ".join(sorted({p.suffix or p.name for p in files})[:5])
            raise ConfigError(f"data.root={root} holds no images, only other files ({kinds}): "
                              f"put {', '.join(e[1:] for e in IMAGE_EXTENSIONS[:5])} ... files in it.")
        raise ConfigError(f"data.root={root} is empty: put images (jpg, png, webp, ...) in it, nested folders are fine.")
    return images


def load_image(path: Path, image_size: int, channels: int) -> Tensor:
    """(C, S, S) uint8: decode, convert to L or RGB, resize the shorter side to S, center crop."""
    mode = "RGB" if channels == 3 else "L"
    with Image.open(path) as image:
        image.draft(mode, (image_size, image_size))  # JPEG: decode at 1/2, 1/4, 1/8 scale when big enough
        image = image.convert(mode)
        width, height = image.size
        scale = image_size / min(width, height)
        size = (max(image_size, round(width * scale)), max(image_size, round(height * scale)))
        image = image.resize(size, Image.BILINEAR)
        left, top = (size[0] - image_size) // 2, (size[1] - image_size) // 2
        image = image.crop((left, top, left + image_size, top + image_size))
        array = np.asarray(image, dtype=np.uint8)
    if channels == 1:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


class ImageFiles(Dataset):
    """Decodes `files[i]`; returns (image, the index of the file it came from, paths that could
    not be read on the way): an unreadable file is replaced by a neighbour, label and all."""

    def __init__(self, files: list[Path], image_size: int, channels: int, replace_unreadable: bool = True):
        self.files, self.image_size, self.channels = files, image_size, channels
        self.replace_unreadable = replace_unreadable

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor | None, int, list[str]]:
        unreadable = []
        for offset in range(min(len(self.files), MAX_UNREADABLE_RUN)):
            read = (index + offset) % len(self.files)
            try:
                return load_image(self.files[read], self.image_size, self.channels), read, unreadable
            except Exception as err:  # truncated, corrupt, not an image: never stop the epoch
                unreadable.append(f"{self.files[read]} ({type(err).__name__}: {err})")
                if not self.replace_unreadable:
                    return None, read, unreadable
        raise ConfigError(f"{len(unreadable)} image files in a row from {self.files[index]} on could not be "
                          f"read: check the files under data.root (first error: {unreadable[0]}).")


def collate_images(samples: list[tuple[Tensor | None, int, list[str]]]) -> tuple[Tensor, Tensor, list[str]]:
    """(uint8 images, the index of each one's file, unreadable paths) of a batch."""
    read = [(image, index) for image, index, _ in samples if image is not None]  # None only when building the cache
    unreadable = [path for _, _, paths in samples for path in paths]
    if not read:
        return torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.long), unreadable
    return torch.stack([image for image, _ in read]), torch.tensor([index for _, index in read]), unreadable


def default_num_workers() -> int:
    """One decoding process per core, leaving one for the training loop (at most 8)."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


class ImageFolderDataModule(InMemoryImageDataModule):
    name = "the image folder"

    def __init__(self, root: str, image_size: int = 64, channels: int = 3, batch_size: int = 64,
                 num_workers: int | None = None, cache: bool = False, cache_dir: str = "data/cache"):
        super().__init__(root, batch_size)
        if channels not in (1, 3):
            raise ConfigError(f"data.channels={channels} is not supported: use 1 (grayscale) or 3 (RGB).")
        if not isinstance(image_size, int) or image_size < 1:
            raise ConfigError(f"data.image_size={image_size} must be a positive integer.")
        self.image_size, self.channels = image_size, channels
        self.image_shape = (channels, image_size, image_size)
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.cache, self.cache_dir = cache, Path(cache_dir).expanduser()
        self.files: list[Path] = []
        self.unreadable: set[str] = set()
        self.file_labels: Tensor | None = None  # each file's class, when conditional
        self.cached_files: Tensor | None = None  # with cache=true: the file index of each cached image
        self._ready = False

    def list_files(self) -> list[Path]:
        return find_images(self.root)

    # ---- classes: one per first-level subfolder ------------------------------------------

    def class_names(self) -> list[str]:
        return self._classes[0]

    @cached_property
    def _classes(self) -> tuple[list[str], Tensor]:
        """(sorted class names, each file's class), or a ConfigError saying how to sort the folder."""
        self.files = self.files or self.list_files()
        parts = [path.relative_to(self.root).parts for path in self.files]
        folders = [part[0] if len(part) > 1 else None for part in parts]
        loose = folders.count(None)
        names = sorted(set(folders) - {None})
        if len(names) < 2:
            raise ConfigError(f"conditional=true needs the images of data.root={self.root} sorted into one subfolder "
                              f"per class, at least two, but it has {len(names)} subfolder(s) with images"
                              f"{': ' + names[0] if names else ''}; sort them (e.g. {self.root}/cats, "
                              f"{self.root}/dogs) or drop conditional=true.")
        if loose:
            raise ConfigError(f"{loose} images lie directly in data.root={self.root}, outside any class subfolder: "
                              f"move them into one of its class subfolders ({', '.join(names[:3])}, ...) "
                              f"or drop conditional=true.")
        index = {name: k for k, name in enumerate(names)}
        labels = torch.tensor([index[folder] for folder in folders])
        counts = torch.bincount(labels, minlength=len(names))
        if counts.min() < MIN_IMAGES_PER_CLASS:
            small = names[int(counts.argmin())]
            raise ConfigError(f"Class {small!r} ({self.root / small}) has {int(counts.min())} images, fewer than the "
                              f"{MIN_IMAGES_PER_CLASS} a class needs: add images to it, or move it out of data.root.")
        return names, labels

    def load_labels(self) -> Tensor:
        return self.file_labels[self.cached_files]  # the classes of the cached (readable) images

    def class_frequencies(self) -> Tensor:
        # cache=true: the readable images' classes; streaming: each file's
        return class_shares(self.file_labels if self.labels is None else self.labels, len(self.class_names()))

    # ---- setup: decode once into memory (cache) or stream from disk --------------------

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        self.files = self.files or self.list_files()
        if self.conditional:
            self.file_labels = self._classes[1]
        if self.cache:
            super().setup(stage)  # -> load_images(): the cached uint8 tensor
        elif len(self.files) < self.batch_size:
            raise ConfigError(f"data.batch_size={self.batch_size} is larger than the {len(self.files)} images "
                              f"in data.root={self.root}: lower data.batch_size.")
        else:
            self._require_a_readable_image()
        self._ready = True

    def _require_a_readable_image(self) -> None:
        """A ConfigError, before training starts, when none of a spread of files decodes: a folder
        of only corrupt files would otherwise fail inside a loader worker, mid-epoch."""
        step = max(1, len(self.files) // MAX_UNREADABLE_RUN)
        errors = []
        for path in self.files[::step][:MAX_UNREADABLE_RUN]:
            try:
                load_image(path, self.image_size, self.channels)
                return
            except Exception as err:  # any decoding failure: try the next file
                errors.append(f"{path.name} ({type(err).__name__})")
        raise ConfigError(f"None of the {len(errors)} image files tried in data.root={self.root} could be read "
                          f"({', '.join(errors[:3])}, ...): replace them with readable images.")

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool, drop_last: bool) -> DataLoader:
        workers = self.num_workers
        sampler = self.shuffle(len(dataset)) if shuffle else None
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                          generator=self.private_generator(),
                          collate_fn=collate_images, num_workers=workers, persistent_workers=workers > 0,
                          prefetch_factor=4 if workers > 0 else None, pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        if self.cache:
            return super().train_dataloader()
        dataset = ImageFiles(self.files, self.image_size, self.channels)
        return self._loader(dataset, self.batch_size, shuffle=True, drop_last=True)

    def real_images(self, n: int, seed: int = 0) -> Tensor:
        if self.cache:
            return super().real_images(n, seed)
        order = torch.randperm(len(self.files), generator=torch.Generator().manual_seed(seed))[:n]
        dataset = ImageFiles([self.files[i] for i in order], self.image_size, self.channels)
        return torch.cat([images for images, _, _ in self._loader(dataset, 256, shuffle=False, drop_last=False)])

    def on_after_batch_transfer(self, batch, dataloader_idx: int) -> Tensor | tuple[Tensor, Tensor]:
        if self.cache:  # (images) or (images, labels) from memory
            return super().on_after_batch_transfer(batch, dataloader_idx)
        images, read, unreadable = batch
        self._report(unreadable)
        if not self.conditional:
            return to_signed_unit(images)
        if self.file_labels.device != read.device:  # moved to the batches' device once
            self.file_labels = self.file_labels.to(read.device)
        return to_signed_unit(images), self.file_labels[read]

    def _report(self, unreadable: list[str]) -> None:
        for entry in unreadable:
            if entry not in self.unreadable:
                self.unreadable.add(entry)
                log.warning("Skipping unreadable image %s; %d skipped so far.", entry, len(self.unreadable))

    # ---- the uint8 cache ----------------------------------------------------------------

    def cache_path(self) -> Path:
        key = hashlib.sha1(f"{self.root.resolve()}|{len(self.files)}".encode()).hexdigest()[:10]
        return self.cache_dir / f"{type(self).__name__}-{key}-{self.channels}x{self.image_size}.pt"

    def fingerprint(self) -> list[str]:
        """Each file's name, size and modification time: a file replaced under its old name
        changes it (reading every byte would cost as much as decoding)."""
        entries = []
        for path in self.files:
            stat = path.stat()
            entries.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
        return entries

    def load_images(self) -> Tensor:
        path = self.cache_path()
        names = self.fingerprint()
        if path.is_file():
            cached = torch.load(path, weights_only=True)
            if cached["files"] == names and "read" in cached:
                log.info("Loaded %d decoded images from the cache %s.", cached["images"].shape[0], path)
                self._report(cached["unreadable"])
                self.cached_files = cached["read"]
                return cached["images"]
            log.info("The images under %s changed since %s was written; decoding again.", self.root, path)
        images, self.cached_files, unreadable = self._decode_all()
        if images.shape[0] == 0:
            raise ConfigError(f"None of the {len(self.files)} image files in data.root={self.root} could be read.")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"images": images, "read": self.cached_files, "files": names, "unreadable": unreadable}, path)
        log.info("Cached %d decoded images (%.1f MB) in %s.", images.shape[0], images.numel() / 1e6, path)
        return images

    def _decode_all(self) -> tuple[Tensor, Tensor, list[str]]:
        """(the readable images, the index of each one's file, the unreadable paths)."""
        dataset = ImageFiles(self.files, self.image_size, self.channels, replace_unreadable=False)
        chunks, read, unreadable = [], [], []
        for images, indices, bad in self._loader(dataset, 256, shuffle=False, drop_last=False):
            if images.numel():
                chunks.append(images)
                read.append(indices)
            unreadable += bad
        self._report(unreadable)
        if not chunks:
            return torch.empty(0, *self.image_shape, dtype=torch.uint8), torch.empty(0, dtype=torch.long), unreadable
        return torch.cat(chunks), torch.cat(read), unreadable
