"""A small MNIST classifier that the project trains itself: the yardstick for digit GANs.

Inception features (trained on ImageNet photos) are the wrong yardstick for 28x28 digits.
This CNN's penultimate features give a Fréchet distance for digits, its predictions give
class coverage and a classifier score. Numbers are comparable only between runs measured
with the same classifier file.
"""

from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError

NUM_FEATURES = 128


class MNISTClassifier(nn.Module):
    """Images in [-1, 1], (N, 1, 28, 28) -> 10 logits; `features()` is the 128-d penultimate layer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, NUM_FEATURES), nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(NUM_FEATURES, 10))

    def features(self, images: Tensor) -> Tensor:
        return self.body(images)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))


def save_classifier(classifier: MNISTClassifier, path: Path, test_accuracy: float, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"gan_lightning_classifier": 1, "state_dict": classifier.state_dict(),
                "test_accuracy": test_accuracy, "data": data}, path)


def load_classifier(path: Path) -> MNISTClassifier:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"No MNIST classifier at {path}: train it with "
                          f"`python -m gan_lightning.metrics.train_classifier data=mnist5k` (or data=mnist).")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        classifier = MNISTClassifier()
        classifier.load_state_dict(saved["state_dict"])
    except Exception as err:
        raise ConfigError(f"{path} is not a classifier written by gan_lightning.metrics.train_classifier "
                          f"({type(err).__name__}); train it again.") from err
    return classifier.eval()
