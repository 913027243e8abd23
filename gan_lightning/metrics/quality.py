"""FID, KID and digit statistics of generated images against real statistics computed once."""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gan_lightning.data import to_signed_unit
from gan_lightning.data.mnist import DIGITS
from gan_lightning.metrics.features import build_metrics

# A digit "appears" in the samples when it gets at least a quarter of its fair share of the
# predictions (a uniform generator gives each 10%): robust to a 98%-accurate classifier's
# stray mistakes, strict enough to miss a digit the generator has all but dropped.
COVERAGE_SHARE = 0.025


class QualityMeter:
    """Feed the real images once (`add_real`), then `measure` any sampler as often as needed."""

    def __init__(self, extractor: nn.Module, kid_subset_size: int = 1000, kid_subsets: int = 50,
                 batch_size: int = 500):
        self.extractor = extractor
        self.fid, self.kid = build_metrics(extractor.num_features, kid_subset_size, kid_subsets)
        self.kid_subset_size, self.batch_size = kid_subset_size, batch_size
        self.real_count = 0

    def to(self, device) -> "QualityMeter":
        for module in (self.fid, self.kid, self.extractor):
            module.to(device)
        self.device = torch.device(device)
        return self

    @torch.no_grad()
    def add_real(self, images: Tensor) -> None:
        """uint8 (N, C, H, W) training images."""
        for chunk in images.split(self.batch_size):
            self._update(self.extractor(to_signed_unit(chunk.to(self.device))), real=True)
        self.real_count += images.shape[0]

    @torch.no_grad()
    def measure(self, sample: Callable[..., Tensor], num_samples: int, labels: Tensor | None = None,
                class_names: list[str] | None = None) -> dict[str, float]:
        """FID, KID (mean, std) and, with a classifier, class coverage and score of
        `num_samples` images from `sample(n)` (in [-1, 1]), or from `sample(n, labels=...)` for
        the given class `labels` (conditional); the real statistics stay. When the classes
        (`class_names`) are the classifier's digits, also `val/class_accuracy`: how often it
        sees the digit asked for."""
        probabilities = []
        for start in range(0, num_samples, self.batch_size):
            count = min(self.batch_size, num_samples - start)
            images = sample(count) if labels is None else sample(count, labels=labels[start:start + count])
            features = self.extractor(images)
            self._update(features, real=False)
            if hasattr(self.extractor, "probabilities"):
                probabilities.append(self.extractor.probabilities(features))
        self.kid.subset_size = min(self.kid_subset_size, self.real_count, num_samples)
        values = {"val/fid": float(self.fid.compute())}
        kid_mean, kid_std = self.kid.compute()
        values.update({"val/kid": float(kid_mean), "val/kid_std": float(kid_std)})
        self.fid.reset()  # keeps the real statistics (reset_real_features=False)
        self.kid.reset()
        if probabilities:
            probabilities = torch.cat(probabilities)
            values.update(digit_statistics(probabilities))
            if labels is not None and class_names == DIGITS:
                values["val/class_accuracy"] = float((probabilities.argmax(1) == labels.to(probabilities.device))
                                                     .float().mean())
        return values

    def _update(self, features: Tensor, real: bool) -> None:
        self.fid.update(features, real=real)
        self.kid.update(features, real=real)


def digit_statistics(probabilities: Tensor) -> dict[str, float]:
    """Class coverage (digits that get >= 2.5% of the predictions) and the classifier score,
    exp(E_x KL(p(y|x) || p(y))): 10 for confident, evenly spread digits, 1 for one blurry class."""
    marginal = probabilities.mean(0)
    shares = torch.bincount(probabilities.argmax(1), minlength=10).float() / probabilities.shape[0]
    kl = (probabilities * (probabilities.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1)
    return {"val/class_coverage": float((shares >= COVERAGE_SHARE).sum()),
            "val/classifier_score": float(kl.mean().exp())}
