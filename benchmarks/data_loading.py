"""Images/s delivered for MNIST: the seeds' DataLoader + ToTensor path vs our uint8-tensor loader.

    python benchmarks/data_loading.py [epochs]

Both read the same 60,000-image IDX files (the mnist5k digits tiled, written to a temp
folder, since MNIST cannot be downloaded offline) and produce float batches in [-1, 1].
Run in one process so the ratio is taken under the same machine load.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_mnist_idx  # noqa: E402
from gan_lightning.data import MNIST5kDataModule, MNISTDataModule  # noqa: E402

BATCH = 64


def write_60k(root: Path) -> None:
    write_mnist_idx(root, n_train=16, n_test=16)  # the four files torchvision checks for
    digits = MNIST5kDataModule().load_images()[:, 0].numpy()
    pixels = np.tile(digits, (12, 1, 1))
    raw = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    raw.write_bytes(np.array([2051, len(pixels), 28, 28], dtype=">u4").tobytes() + pixels.tobytes())
    labels = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(np.array([2049, len(pixels)], dtype=">u4").tobytes() + np.zeros(len(pixels), np.uint8).tobytes())


def images_per_second(batches, finish) -> float:
    count, start = 0, time.perf_counter()
    for batch in batches:
        count += finish(batch).shape[0]
    return count / (time.perf_counter() - start)


def main(epochs: int = 1) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_60k(root)
        seed_set = MNIST(str(root), train=True, download=False, transform=transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]))
        seed_loader = DataLoader(seed_set, batch_size=BATCH, shuffle=True)
        dm = MNISTDataModule(root=str(root), batch_size=BATCH, download=False)
        dm.setup("fit")
        ours = dm.train_dataloader()

        for epoch in range(epochs):
            seed_rate = images_per_second(seed_loader, lambda b: b[0])
            our_rate = images_per_second(ours, lambda b: dm.on_after_batch_transfer(b, 0))
            print(f"epoch {epoch}: seeds' DataLoader+ToTensor {seed_rate:,.0f} img/s | "
                  f"gan_lightning uint8 tensor {our_rate:,.0f} img/s | ratio {our_rate / seed_rate:.0f}x "
                  f"(batch {BATCH}, {torch.get_num_threads()} threads, 60,000 images)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
