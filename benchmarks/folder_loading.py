"""Images/s the image-folder loader delivers for CelebA-like JPEGs at 64x64, with and without the cache.

    python benchmarks/folder_loading.py [n_images] [workers]

Writes n 178x218 JPEGs (CelebA's size; smooth random content, so files are about as big as
faces) to a temp folder, then times full epochs of float batches in [-1, 1]:
  * decoding from disk with `workers` processes (first and a second, warm epoch),
  * the one-off cost of building the uint8 cache,
  * epochs served from the cache (what later epochs and runs get).
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gan_lightning.data import ImageFolderDataModule


def write_jpegs(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 256, size=(28, 23, 3), dtype=np.uint8)  # upsampled: face-like smoothness
        Image.fromarray(small).resize((178, 218), Image.BICUBIC).save(root / f"{i:06d}.jpg", quality=90)


def epoch_rate(dm: ImageFolderDataModule) -> float:
    count, start = 0, time.perf_counter()
    for batch in dm.train_dataloader():
        count += dm.on_after_batch_transfer(batch, 0).shape[0]
    return count / (time.perf_counter() - start)


def main(n: int = 4096, workers: int = 2) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "jpegs"
        root.mkdir()
        write_jpegs(root, n)
        kwargs = dict(root=str(root), image_size=64, batch_size=128, num_workers=workers, cache_dir=f"{tmp}/cache")

        streaming = ImageFolderDataModule(**kwargs)
        streaming.setup("fit")
        cold, warm = epoch_rate(streaming), epoch_rate(streaming)

        start = time.perf_counter()
        cached = ImageFolderDataModule(**kwargs, cache=True)
        cached.setup("fit")
        build = time.perf_counter() - start
        from_cache = epoch_rate(cached)
        start = time.perf_counter()
        reloaded = ImageFolderDataModule(**kwargs, cache=True)
        reloaded.setup("fit")
        reload = time.perf_counter() - start

    print(f"{n} JPEGs 178x218 -> 3x64x64, batch 128, {workers} workers:")
    print(f"  decoding from disk: {cold:,.0f} img/s (first epoch), {warm:,.0f} img/s (second epoch)")
    print(f"  building the cache: {build:.1f} s once ({n / build:,.0f} img/s); a later run loads it in {reload:.2f} s")
    print(f"  served from cache:  {from_cache:,.0f} img/s  ({from_cache / warm:.0f}x the decoding rate)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
