import numpy as np
import pytest
import torch

from conftest import write_mnist_idx
from gan_lightning.data import MNIST5kDataModule, MNISTDataModule, to_signed_unit
from gan_lightning.run.errors import ConfigError


def test_to_signed_unit_matches_the_seeds_totensor_normalize():
    pixels = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)
    seeds = (pixels.float() / 255 - 0.5) / 0.5  # transforms.ToTensor() then Normalize((0.5,), (0.5,))
    assert torch.allclose(to_signed_unit(pixels), seeds, atol=1e-6)
    assert to_signed_unit(pixels).min() == -1 and to_signed_unit(pixels).max() == 1


def test_mnist5k_is_the_5000_real_digits_as_one_uint8_tensor():
    dm = MNIST5kDataModule(batch_size=64)
    dm.setup("fit")
    assert dm.images.shape == (5000, 1, 28, 28) and dm.images.dtype == torch.uint8
    assert dm.images.float().mean() < 60  # dark background, bright strokes: real digits, not noise
    loader = dm.train_dataloader()
    assert len(loader) == 5000 // 64  # drop_last: only full batches
    batch = dm.on_after_batch_transfer(next(iter(loader)), 0)
    assert batch.shape == (64, 1, 28, 28) and batch.dtype == torch.float32
    assert batch.min() >= -1 and batch.max() <= 1


def test_mnist_reads_torchvision_idx_files_offline(tmp_path):
    pixels = write_mnist_idx(tmp_path, n_train=100)
    dm = MNISTDataModule(root=str(tmp_path), batch_size=10, download=False)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.images.shape == (100, 1, 28, 28)
    assert np.array_equal(dm.images[:, 0].numpy(), pixels)
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (10, 1, 28, 28) and batch.dtype == torch.uint8


@pytest.mark.parametrize("download", [True, False])
def test_missing_mnist_names_the_root_and_the_offline_alternative(tmp_path, download):
    dm = MNISTDataModule(root=str(tmp_path / "nowhere"), download=download)
    with pytest.raises(ConfigError, match=r"MNIST is not in data.root=.*nowhere.*data=mnist5k"):
        dm.prepare_data()


def test_batch_larger_than_the_data_set_is_refused(tmp_path):
    write_mnist_idx(tmp_path, n_train=20)
    dm = MNISTDataModule(root=str(tmp_path), batch_size=64, download=False)
    with pytest.raises(ConfigError, match=r"data.batch_size=64 is larger than the 20 images"):
        dm.setup("fit")
    with pytest.raises(ConfigError, match="data.batch_size=0"):
        MNIST5kDataModule(batch_size=0)
