"""Image files on disk: finding them under a folder, decoding one to a uint8 tensor, and a
Dataset that decodes them in loader workers and never stops an epoch for a bad file."""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from gan_lightning.errors import ConfigError

# A run of this many unreadable files in a row is a broken folder, not a stray bad file.
MAX_UNREADABLE_RUN = 64

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


class UnsupportedImage(ValueError):
    """An image whose pixel values cannot be mapped to 8 bits faithfully."""


def to_8_bit(image: Image.Image) -> Image.Image:
    """The same picture in 8 bits. PIL's convert() clips 16-bit, 32-bit and float pixels at 255
    (a 16-bit gradient turns white), so these are scaled by their range: 16-bit by 65535/255,
    32-bit integers by theirs (those within 0..65535 are 16-bit PNGs, which PIL opens as "I"),
    floats from [0, 1] (or [0, 255] when they go beyond 1). Other modes are PIL's to convert."""
    if image.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return image
    array = np.asarray(image, dtype=np.float64)
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if image.mode.startswith("I;16") or (image.mode == "I" and 0 <= low and high <= 65535):
        array = array / 257
    elif image.mode == "I" and low >= 0:
        array = array / (2**31 - 1) * 255
    elif image.mode == "F" and 0 <= low and high <= 1:
        array = array * 255
    elif image.mode == "F" and 0 <= low and high <= 255:
        pass
    else:
        raise UnsupportedImage(f"{image.mode} pixels from {low:g} to {high:g} have no known scale to 8 bits; "
                               f"save the image as 8- or 16-bit")
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), "L")


def load_image(path: Path, image_size: int, channels: int) -> Tensor:
    """(C, S, S) uint8: decode, convert to L or RGB, resize the shorter side to S, center crop."""
    mode = "RGB" if channels == 3 else "L"
    with Image.open(path) as image:
        image.draft(mode, (image_size, image_size))  # JPEG: decode at 1/2, 1/4, 1/8 scale when big enough
        image = to_8_bit(image).convert(mode)
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
