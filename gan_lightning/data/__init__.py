"""LightningDataModules that serve image batches in [-1, 1]."""

from gan_lightning.data.base import ImageTensorDataset, InMemoryImageDataModule, to_signed_unit, to_uint8
from gan_lightning.data.celeba import CelebADataModule
from gan_lightning.data.cifar10 import CIFAR10DataModule
from gan_lightning.data.folder import ImageFolderDataModule
from gan_lightning.data.mnist import MNIST5kDataModule, MNISTDataModule

__all__ = ["CelebADataModule", "CIFAR10DataModule", "ImageFolderDataModule", "ImageTensorDataset", "InMemoryImageDataModule",
           "MNISTDataModule", "MNIST5kDataModule", "to_signed_unit", "to_uint8"]
