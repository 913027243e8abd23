"""Where a view writes: checked before anything is drawn (a refused command writes nothing), and
written with one sentence when the disk says no."""

import math
import os
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from gan_lightning.errors import ConfigError

PICTURES = (".png", ".jpg", ".jpeg")


def check_out(out: Path, suffixes: tuple[str, ...], what: str) -> None:
    """A ConfigError unless `out` ends in one of `suffixes` and its folder is (or can be made) writable."""
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"out={out} must end in {' or '.join(suffixes)} ({what}).")
    if out.is_dir():
        raise ConfigError(f"out={out} is a folder: give a file name in it, e.g. out={out / ('picture' + suffixes[0])}.")
    folder = next(parent for parent in out.absolute().parents if parent.exists())
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"out={out} cannot be written: {folder} is not a writable folder; give a path in one.")


def write(out: Path, save: Callable[[Path], None]) -> None:
    """`save(out)`, after making its folder; an OSError (a full disk, no permission) as one sentence."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        save(out)
    except OSError as err:
        raise ConfigError(f"out={out} cannot be written ({err.strerror}): give a path in a writable folder.") from err


def beside(out: Path, name: str) -> Path:
    """A second file a view writes next to `out`: interpolation.png -> interpolation_walk.gif."""
    return out.with_name(out.stem + name)


def refuse_what_does_not_fit(n: int, image_shape: list[int], grid: bool, key: str = "n") -> None:
    """The images are made in memory (float32) before they are written, a grid several times over
    (the grid, its 8-bit copy, the encoder's): refuse a number that cannot fit, and a grid larger
    than image viewers (and PIL, Image.MAX_IMAGE_PIXELS) open. `key` names what sets n."""
    pixels = math.prod(image_shape[1:])
    if grid and n * pixels > Image.MAX_IMAGE_PIXELS:
        raise ConfigError(f"A grid of {n} images of {'x'.join(map(str, image_shape[1:]))} pixels would be "
                          f"{n * pixels / 1e6:.0f} megapixels, more than image viewers open: lower {key} "
                          f"(to {Image.MAX_IMAGE_PIXELS // pixels} images or fewer), or use out=samples.npz for "
                          f"many images.")
    needed = n * math.prod(image_shape) * 4 * (4 if grid else 1)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > available // 2:
        fits = max(1, available // 2 // (math.prod(image_shape) * 4 * (4 if grid else 1)))
        raise ConfigError(f"{key}={n} images of {'x'.join(map(str, image_shape))} need {needed / 1e9:.1f} GB of "
                          f"memory, more than half of the {available / 1e9:.1f} GB available: draw at most "
                          f"{fits} at once (several files, each with its own seed=, give more).")
