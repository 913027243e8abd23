"""Train the digit classifier behind the `mnist` FID/KID features; report its test accuracy.

    python -m gan_lightning.metrics.train_classifier data=mnist5k   # -> data/classifiers/mnist5k.pt
    python -m gan_lightning.metrics.train_classifier data=mnist data.root=/data
"""

import logging
import time
from pathlib import Path

import hydra
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig

from gan_lightning.data import to_signed_unit
from gan_lightning.errors import ConfigError, one_line_errors
from gan_lightning.metrics.classifier import MNISTClassifier, save_classifier

log = logging.getLogger(__name__)


def _shift(images: torch.Tensor, pixels: int = 2) -> torch.Tensor:
    """Random translations by up to `pixels`: the augmentation that matters for digits."""
    padded = F.pad(images, [pixels] * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * pixels + 1, (2,)).tolist()
    return padded[:, :, dy:dy + images.shape[2], dx:dx + images.shape[3]]


@torch.no_grad()
def accuracy(classifier: MNISTClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    classifier.eval()
    predictions = torch.cat([classifier(to_signed_unit(chunk)).argmax(1) for chunk in images.split(1000)])
    return (predictions == labels).float().mean().item()


def train_classifier(datamodule, out: Path, data_name: str, epochs: int = 6, batch_size: int = 128,
                     lr: float = 2e-3, seed: int = 0) -> float:
    """Train on the datamodule's labelled train split, save to `out`, return the test accuracy."""
    if not hasattr(datamodule, "labelled"):
        raise ConfigError(f"The mnist classifier trains on labelled digits: use data=mnist5k or data=mnist, "
                          f"not {type(datamodule).__name__}.")
    torch.manual_seed(seed)
    start = time.perf_counter()
    train_images, train_labels = datamodule.labelled("train")
    test_images, test_labels = datamodule.labelled("test")
    classifier = MNISTClassifier()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    steps = epochs * (len(train_labels) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        classifier.train()
        order = torch.randperm(len(train_labels))
        for chunk in order.split(batch_size)[: len(train_labels) // batch_size]:
            images = _shift(to_signed_unit(train_images[chunk]))
            loss = F.cross_entropy(classifier(images), train_labels[chunk])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        log.info("classifier epoch %d/%d: loss %.3f", epoch + 1, epochs, loss.item())
    test_accuracy = accuracy(classifier, test_images, test_labels)
    save_classifier(classifier, out, test_accuracy, data_name)
    log.info("Digit classifier: %.2f%% test accuracy on %d held-out %s digits, trained in %.0f s -> %s",
             100 * test_accuracy, len(test_labels), data_name, time.perf_counter() - start, out)
    return test_accuracy


@hydra.main(version_base="1.3", config_path="../conf", config_name="classifier")
def main(cfg: DictConfig) -> float:
    with one_line_errors("gan_lightning.metrics.train_classifier"):
        datamodule = instantiate(cfg.data)
        return train_classifier(datamodule, Path(cfg.out), cfg.data_name, cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed)


if __name__ == "__main__":
    main()
