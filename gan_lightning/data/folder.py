"""Any folder of images (nested folders fine), decoded by worker processes.

With conditional=true each first-level subfolder of data.root is a class (sorted by name:
class k is the k-th); without it the folder names are ignored.

Each image is decoded (data/image_files.py), converted to the set's mode, resized on its
shorter side and center cropped, as in the DCGAN seed; batches travel as uint8 and are
normalised on the device. An unreadable file is replaced in its batch by a readable neighbour
and reported once, by name, with a running count: a bad file never stops an epoch.

Two ways to serve the images, one small class each:
* `StreamFromDisk` (cache=false): every batch is decoded from the files.
* `DecodeOnce` (cache=true): the decoded set is written once as one uint8 tensor file, and
  later epochs and runs skip decoding entirely (served like MNIST, from memory).
"""

import errno
import hashlib
import logging
from functools import cached_property
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gan_lightning.data.base import InMemoryImageDataModule, class_shares, fixed_choice, to_signed_unit
from gan_lightning.data.image_files import (
    MAX_UNREADABLE_RUN,
    ImageFiles,
    collate_images,
    default_num_workers,
    find_images,
    load_image,
)
from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)

# A class with fewer images than this is a stray folder, not a class G could learn.
MIN_IMAGES_PER_CLASS = 10


class ImageFolderDataModule(InMemoryImageDataModule):
    name = "the image folder"

    def __init__(self, root: str, image_size: int = 64, channels: int = 3, batch_size: int = 64,
                 num_workers: int | None = None, cache: bool = False, cache_dir: str = "data/cache",
                 limit: int | None = None):
        super().__init__(root, batch_size, limit)
        if channels not in (1, 3):
            raise ConfigError(f"data.channels={channels} is not supported: use 1 (grayscale) or 3 (RGB).")
        if not isinstance(image_size, int) or image_size < 1:
            raise ConfigError(f"data.image_size={image_size} must be a positive integer.")
        self.image_size, self.channels = image_size, channels
        self.image_shape = (channels, image_size, image_size)
        if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)
                                        or num_workers < 0):
            raise ConfigError(f"data.num_workers={num_workers} must be 0 (decode in the training process), a "
                              f"positive number of processes, or null (one per core, at most 8).")
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.cache, self.cache_dir = cache, Path(cache_dir).expanduser()
        self.mode = DecodeOnce(self) if cache else StreamFromDisk(self)
        self.unreadable: set[str] = set()
        self.file_labels: Tensor | None = None  # each file's class, when conditional
        self._ready = False

    def list_files(self) -> list[Path]:
        """The image files, sorted (a subclass such as CelebA lists its own)."""
        return find_images(self.root)

    @cached_property
    def files(self) -> list[Path]:
        return self.list_files()

    # ---- data.limit draws its subset over the files: a resume must find the same ones -------

    def files_fingerprint(self) -> str:
        return hashlib.sha1("\n".join(str(p.relative_to(self.root)) for p in self.files).encode()).hexdigest()[:16]

    def state_dict(self) -> dict:
        return {**super().state_dict(), **({"limit_files": self.files_fingerprint()} if self.limit is not None else {})}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.limit is not None and state.get("limit_files", self.files_fingerprint()) != self.files_fingerprint():
            raise ConfigError(f"data.root={self.root} is not the folder this run started on (files were added, removed "
                              f"or renamed since), and data.limit={self.limit} chose its images among those files: "
                              f"put the folder back as it was to resume, or start a new run.")

    # ---- classes: one per first-level subfolder ------------------------------------------

    def class_names(self) -> list[str]:
        return self._classes[0]

    @cached_property
    def _classes(self) -> tuple[list[str], Tensor]:
        """(sorted class names, each file's class), or a ConfigError saying how to sort the folder."""
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

    # ---- serving: the mode's ------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        if self.conditional:
            self.file_labels = self._classes[1]
        self.mode.setup(stage)
        self._ready = True

    def train_dataloader(self) -> DataLoader:
        return self.mode.train_dataloader()

    def real_images(self, n: int, seed: int = 0, training_only: bool = False) -> Tensor:
        return self.mode.real_images(n, seed, training_only)

    def on_after_batch_transfer(self, batch, dataloader_idx: int) -> Tensor | tuple[Tensor, Tensor]:
        return self.mode.on_after_batch_transfer(batch, dataloader_idx)

    def heldout_images(self, n: int | None = None) -> Tensor | None:
        return self.mode.heldout_images(n)

    def training_images(self) -> Tensor:
        """uint8: every image G trains on (decoded from the files when they are streamed)."""
        return self.mode.training_images()

    def class_frequencies(self) -> Tensor:
        return class_shares(self.mode.labels(), len(self.class_names()))

    def load_images(self) -> Tensor:
        return self.mode.load_images()

    def load_labels(self) -> Tensor:
        return self.mode.load_labels()

    # ---- what both modes use --------------------------------------------------------------

    def loader(self, dataset: Dataset, batch_size: int, shuffle: bool, drop_last: bool) -> DataLoader:
        """Decoding `dataset` in `num_workers` processes (the training order resumable when shuffled)."""
        workers = self.num_workers
        sampler = self.shuffle(len(dataset)) if shuffle else None
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                          generator=self.private_generator(),
                          collate_fn=collate_images, num_workers=workers, persistent_workers=workers > 0,
                          prefetch_factor=4 if workers > 0 else None, pin_memory=torch.cuda.is_available())

    def image_files(self, files: list[Path], replace_unreadable: bool = True) -> ImageFiles:
        return ImageFiles(files, self.image_size, self.channels, replace_unreadable)

    def decode(self, files: list[Path]) -> Tensor:
        """The images of `files`, uint8 (an unreadable one replaced by a readable neighbour)."""
        dataset = self.image_files(files)
        return torch.cat([images for images, _, _ in self.loader(dataset, 256, shuffle=False, drop_last=False)])

    def labels_of_files(self) -> Tensor | None:
        """Each file's class where the folder is sorted into classes (conditional or not), else None."""
        if self.file_labels is not None:
            return self.file_labels
        return self._classes[1] if self._has_labels() else None

    def report(self, unreadable: list[str]) -> None:
        """Each unreadable file once, by name, with a running count."""
        for entry in unreadable:
            if entry not in self.unreadable:
                self.unreadable.add(entry)
                log.warning("Skipping unreadable image %s; %d skipped so far.", entry, len(self.unreadable))


class StreamFromDisk:
    """cache=false: every batch decoded from the files by the loader's workers."""

    def __init__(self, folder: ImageFolderDataModule):
        self.folder = folder
        self.train_files: list[Path] = []
        self.heldout_files: list[Path] = []

    def setup(self, stage: str | None) -> None:
        folder = self.folder
        if len(folder.files) < folder.batch_size:
            raise ConfigError(f"data.batch_size={folder.batch_size} is larger than the {len(folder.files)} images "
                              f"in data.root={folder.root}: lower data.batch_size.")
        self.train_files = folder.files
        if folder.limit is not None:  # data.limit: these files are trained on, the rest held out
            chosen, held = folder.choose_limited(len(folder.files), folder.labels_of_files())
            self.train_files = [folder.files[i] for i in chosen.tolist()]
            self.heldout_files = [folder.files[i] for i in held.tolist()]
            if folder.conditional:
                folder.file_labels = folder.file_labels[chosen]  # indexed by the training files' order
            self._say_unreadable_chosen()
        self._require_a_readable_image()

    def _say_unreadable_chosen(self) -> None:
        """data.limit's N counts files; one that cannot be decoded is replaced by a neighbour in its
        batch, so the run trains on fewer distinct images: said once, with the names."""
        folder, unreadable = self.folder, []
        for path in self.train_files:
            try:
                load_image(path, folder.image_size, folder.channels)
            except Exception:  # any decoding failure
                unreadable.append(path.name)
        if unreadable:
            log.warning("%d of the data.limit=%d files chosen cannot be read (%s): the run trains on %d distinct "
                        "images; remove them from data.root to have %d.", len(unreadable), folder.limit,
                        ", ".join(unreadable[:5]) + (", ..." if len(unreadable) > 5 else ""),
                        folder.limit - len(unreadable), folder.limit)

    def _require_a_readable_image(self) -> None:
        """A ConfigError, before training starts, when none of a spread of files decodes: a folder
        of only corrupt files would otherwise fail inside a loader worker, mid-epoch."""
        folder = self.folder
        step = max(1, len(folder.files) // MAX_UNREADABLE_RUN)
        errors = []
        for path in folder.files[::step][:MAX_UNREADABLE_RUN]:
            try:
                load_image(path, folder.image_size, folder.channels)
                return
            except Exception as err:  # any decoding failure: try the next file
                errors.append(f"{path.name} ({type(err).__name__})")
        raise ConfigError(f"None of the {len(errors)} image files tried in data.root={folder.root} could be read "
                          f"({', '.join(errors[:3])}, ...): replace them with readable images.")

    def train_dataloader(self) -> DataLoader:
        folder = self.folder
        return folder.loader(folder.image_files(self.train_files), folder.batch_size, shuffle=True, drop_last=True)

    def real_images(self, n: int, seed: int, training_only: bool) -> Tensor:  # the metrics': from all the files
        files = self.train_files if training_only else self.folder.files
        return self.folder.decode([files[i] for i in fixed_choice(len(files), n, seed).tolist()])

    def heldout_images(self, n: int | None) -> Tensor | None:
        if not self.heldout_files:
            return None
        chosen = fixed_choice(len(self.heldout_files), n, seed=0)
        return self.folder.decode([self.heldout_files[i] for i in chosen.tolist()])

    def training_images(self) -> Tensor:
        return self.folder.decode(self.train_files)

    def on_after_batch_transfer(self, batch, dataloader_idx: int) -> Tensor | tuple[Tensor, Tensor]:
        folder = self.folder
        images, read, unreadable = batch
        folder.report(unreadable)
        if not folder.conditional:
            return to_signed_unit(images)
        if folder.file_labels.device != read.device:  # moved to the batches' device once
            folder.file_labels = folder.file_labels.to(read.device)
        return to_signed_unit(images), folder.file_labels[read]  # the label of the file actually read

    def labels(self) -> Tensor:
        return self.folder.file_labels

    def load_images(self) -> Tensor:
        raise NotImplementedError("cache=false streams from disk: nothing is held in memory")

    load_labels = load_images


class DecodeOnce:
    """cache=true: the readable images decoded once into one uint8 tensor file (keyed by the
    files' names, sizes and times), then served from memory as InMemoryImageDataModule serves MNIST."""

    def __init__(self, folder: ImageFolderDataModule):
        self.folder = folder
        self.cached_files: Tensor | None = None  # the file index of each cached image

    def setup(self, stage: str | None) -> None:
        InMemoryImageDataModule.setup(self.folder, stage)  # -> load_images() (and load_labels())

    def train_dataloader(self) -> DataLoader:
        return InMemoryImageDataModule.train_dataloader(self.folder)

    def real_images(self, n: int, seed: int, training_only: bool) -> Tensor:
        return InMemoryImageDataModule.real_images(self.folder, n, seed, training_only)

    def heldout_images(self, n: int | None) -> Tensor | None:
        return InMemoryImageDataModule.heldout_images(self.folder, n)

    def training_images(self) -> Tensor:
        return self.folder.images

    def on_after_batch_transfer(self, batch, dataloader_idx: int) -> Tensor | tuple[Tensor, Tensor]:
        return InMemoryImageDataModule.on_after_batch_transfer(self.folder, batch, dataloader_idx)

    def labels(self) -> Tensor:
        return self.folder.labels  # the readable images' classes

    def load_labels(self) -> Tensor:
        return self.folder.labels_of_files()[self.cached_files]

    def path(self) -> Path:
        folder = self.folder
        key = hashlib.sha1(f"{folder.root.resolve()}|{len(folder.files)}".encode()).hexdigest()[:10]
        return folder.cache_dir / f"{type(folder).__name__}-{key}-{folder.channels}x{folder.image_size}.pt"

    def fingerprint(self) -> list[str]:
        """Each file's name, size and modification time: a file replaced under its old name
        changes it (reading every byte would cost as much as decoding)."""
        entries = []
        for path in self.folder.files:
            stat = path.stat()
            entries.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
        return entries

    def load_images(self) -> Tensor:
        folder, path, names = self.folder, self.path(), self.fingerprint()
        if path.is_file():
            cached = torch.load(path, weights_only=True)
            if cached["files"] == names and "read" in cached:
                log.info("Loaded %d decoded images from the cache %s.", cached["images"].shape[0], path)
                folder.report(cached["unreadable"])
                self.cached_files = cached["read"]
                return cached["images"]
            log.info("The images under %s changed since %s was written; decoding again.", folder.root, path)
        images, self.cached_files, unreadable = self._decode_all()
        if images.shape[0] == 0:
            raise ConfigError(f"None of the {len(folder.files)} image files in data.root={folder.root} could be read.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"images": images, "read": self.cached_files, "files": names, "unreadable": unreadable}, path)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # a full disk: its own sentence (run/errors.py)
            path.unlink(missing_ok=True) if path.is_file() else None
            raise ConfigError(f"data.cache_dir={folder.cache_dir} cannot be written ({err.strerror}): set "
                              f"data.cache_dir to a writable folder, or data.cache=false to decode every epoch.") from err
        log.info("Cached %d decoded images (%.1f MB) in %s.", images.shape[0], images.numel() / 1e6, path)
        return images

    def _decode_all(self) -> tuple[Tensor, Tensor, list[str]]:
        """(the readable images, the index of each one's file, the unreadable paths)."""
        folder = self.folder
        dataset = folder.image_files(folder.files, replace_unreadable=False)
        chunks, read, unreadable = [], [], []
        for images, indices, bad in folder.loader(dataset, 256, shuffle=False, drop_last=False):
            if images.numel():
                chunks.append(images)
                read.append(indices)
            unreadable += bad
        folder.report(unreadable)
        if not chunks:
            return torch.empty(0, *folder.image_shape, dtype=torch.uint8), torch.empty(0, dtype=torch.long), unreadable
        return torch.cat(chunks), torch.cat(read), unreadable
