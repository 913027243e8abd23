"""The feature extractor behind every metric, and the torchmetrics objects that use it.

`mnist`: the project's own digit classifier (1x28x28 data, and 1x32x32 digits padded by
data.image_size=32, cropped back). `inception`: the standard 2048-d InceptionV3 features of
torchmetrics/torch-fidelity (photos, CelebA, CIFAR-10); its weights are downloaded at first use
or read from a local file. `auto`: mnist for 1-channel 28 or 32-pixel images, inception otherwise.
Features are computed once per image; `logits(features)` gives the class logits the Inception
Score reads (the classifier's head; Inception's 1008-way layer without its bias, as
torch-fidelity's `logits_unbiased`), with no second pass.

Inception resizes images to 299 pixels the way TensorFlow 1 did (`inception_resize=tensorflow`),
as the published FIDs were computed; torchmetrics' default, bilinear with antialiasing
(`antialias`), gives different numbers.
"""

import warnings
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from gan_lightning.data import to_uint8
from gan_lightning.errors import ConfigError
from gan_lightning.metrics.classifier import load_classifier

FEATURES = ("auto", "mnist", "inception")
RESIZES = ("tensorflow", "antialias")


def resolve_feature(feature: str, image_shape: Sequence[int]) -> str:
    if feature not in FEATURES:
        raise ConfigError(f"Unknown metrics feature {feature!r}: use one of {', '.join(FEATURES)}, or null for no metrics.")
    if feature == "auto":
        return "mnist" if tuple(image_shape) in ((1, 28, 28), (1, 32, 32)) else "inception"
    return feature


class ClassifierExtractor(nn.Module):
    """[-1, 1] digits -> the classifier's 128-d penultimate features; `logits` from them."""

    digits = True  # its classes are the ten digits: class coverage and accuracy
    num_classes = 10

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.num_features = classifier.head[-1].in_features

    def forward(self, images: Tensor) -> Tensor:
        margin = (images.shape[-1] - 28) // 2  # digits padded to 32 pixels: the classifier reads the 28 inside
        if margin > 0:
            images = images[..., margin:-margin, margin:-margin]
        return self.classifier.features(images.float())

    def logits(self, features: Tensor) -> Tensor:
        return self.classifier.head(features)


class InceptionExtractor(nn.Module):
    """[-1, 1] images (1 or 3 channels) -> uint8 RGB -> torch-fidelity's 2048-d InceptionV3 pool features."""

    num_features = 2048
    num_classes = 1008

    def __init__(self, weights_path: str | None, resize: str = "tensorflow"):
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                      feature_extractor_weights_path=weights_path, antialias=resize == "antialias")

    def forward(self, images: Tensor) -> Tensor:
        images = to_uint8(images)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return self.net(images)

    def logits(self, features: Tensor) -> Tensor:
        return features @ self.net.fc.weight.T.to(features.dtype)


class Precomputed(nn.Module):
    """Lets torchmetrics' FID, KID and IS take features computed once for all."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


def check_resize(inception_resize: str) -> None:
    if inception_resize not in RESIZES:
        raise ConfigError(f"Unknown callbacks.metrics.inception_resize={inception_resize!r}: use tensorflow (as "
                          f"published FIDs) or antialias (torchmetrics' default).")


def build_extractor(kind: str, classifier_path: str | None, inception_weights: str | None,
                    inception_resize: str = "tensorflow") -> nn.Module:
    if kind == "mnist":
        return ClassifierExtractor(load_classifier(Path(classifier_path)))
    check_resize(inception_resize)
    try:
        return InceptionExtractor(inception_weights, inception_resize)
    except Exception as err:  # no network and no local file; or a bad file
        where = f"from {inception_weights}" if inception_weights else "(the download failed)"
        reason = str(err).splitlines()[0] if str(err) else ""
        raise ConfigError(
            f"The Inception weights for FID/KID could not be loaded {where}: {type(err).__name__} {reason}; "
            f"give a local copy of torch-fidelity's weights-inception-2015-12-05-6726825d.pth with "
            f"callbacks.metrics.inception_weights=PATH, or train without FID/KID: callbacks.metrics.feature=null."
        ) from err


def build_metrics(num_features: int, kid_subset_size: int, kid_subsets: int):
    """FID and KID over precomputed features; their real statistics survive reset()."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    features = Precomputed(num_features)
    # sync_on_compute=False: one process (rank zero) measures and broadcasts the numbers; a
    # cross-process sync inside compute() would wait forever for the ranks that do not measure.
    fid = FrechetInceptionDistance(feature=features, reset_real_features=False, sync_on_compute=False)
    with warnings.catch_warnings():  # "KID saves all features": we give it num_samples per side, by design
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=features, reset_real_features=False, subset_size=kid_subset_size,
                                      subsets=kid_subsets, sync_on_compute=False)
    return fid, kid
