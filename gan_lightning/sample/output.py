"""Where a view writes: checked before anything is drawn (a refused command writes nothing), and
written with one sentence when the disk says no."""

import math
import os
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from gan_lightning.errors import ConfigError

PICTURES = (".png", ".jpg", ".jpeg")
MAX_SIDE = 65_535  # pixels: JPEG's largest side, and more than most image viewers open


def check_out(out: Path, suffixes: tuple[str, ...], what: str, also: tuple[Path, ...] = ()) -> None:
    """A ConfigError unless `out` ends in one of `suffixes` and its folder is (or can be made)
    writable; `also`: the files the view writes beside it, which must not be folders either."""
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"out={out} must end in {' or '.join(suffixes)} ({what}).")
    if out.is_dir():
        raise ConfigError(f"out={out} is a folder: give a file name in it, e.g. out={out / ('picture' + suffixes[0])}.")
    for path in also:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder, and out={out} writes a file of that name beside it: move the "
                              f"folder, or choose another out=.")
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


def refuse_what_does_not_fit(n: int, image_shape: list[int], grid: bool, key: str = "n", labelled: bool = False,
                             columns: tuple[str, int, int] | None = None) -> None:
    """The images are made in memory (float32) before they are written, a grid several times over
    (the grid, its 8-bit copy, the encoder's): refuse a number that cannot fit, and a grid larger
    than image viewers (and PIL, Image.MAX_IMAGE_PIXELS) open, or wider (MAX_SIDE). `key` names
    what sets n; `labelled`: a picture.labelled_grid, whose small images are drawn enlarged;
    `columns`: (the key that sets a row's length, its value, the images a row then holds)."""
    from gan_lightning.sample.picture import GAP, enlargement

    scale = enlargement(image_shape) if labelled else 1
    if grid and columns is not None:
        column_key, value, wide = columns
        widest = (MAX_SIDE - 256) // (image_shape[-1] * scale + GAP)  # a row's images, their gaps, its label
        if wide > widest:
            raise ConfigError(f"{column_key}={value} makes each row {wide} images wide, wider than image viewers (and "
                              f"JPEG) open ({MAX_SIDE:,} pixels): use {column_key}={widest - max(0, wide - value)} "
                              f"or fewer.")
    pixels = math.prod(image_shape[1:]) * scale * scale
    if grid and n * pixels > Image.MAX_IMAGE_PIXELS:
        npz = ", or use out=samples.npz for many images" if not labelled else ""
        raise ConfigError(f"A picture of {n} images of {'x'.join(map(str, image_shape[1:]))} pixels"
                          f"{f' (drawn {scale}x as large)' if scale > 1 else ''} would be {n * pixels / 1e6:.0f} "
                          f"megapixels, more than image viewers open: lower {key} (to "
                          f"{Image.MAX_IMAGE_PIXELS // pixels} images or fewer){npz}.")
    needed = n * math.prod(image_shape) * 4 * (4 * scale * scale if grid else 1)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > available // 2:
        fits = max(1, available // 2 // (needed // n))
        more = " (several files, each with its own seed=, give more)" if key == "n" else ""
        asked = f"{key}={n} images" if "=" not in key else f"{n} images ({key})"
        raise ConfigError(f"{asked} of {'x'.join(map(str, image_shape))} need {needed / 1e9:.1f} GB of memory, more "
                          f"than half of the {available / 1e9:.1f} GB available: lower "
                          f"{'it' if '=' not in key else key} to {fits} images or fewer{more}.")
