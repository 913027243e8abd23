"""The numbers papers report, from one feature pass over real images (once) and generated ones.

FID and KID (torchmetrics), the Inception Score (torchmetrics, over the extractor's class
logits), improved precision and recall and density and coverage (manifold.py): every metric
reads the same features, so a generated image goes through the extractor once.
"""

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from gan_lightning.data import to_signed_unit
from gan_lightning.data.mnist import DIGITS
from gan_lightning.errors import ConfigError
from gan_lightning.metrics.features import Precomputed, build_metrics
from gan_lightning.metrics.manifold import precision_recall_density_coverage

# The names callbacks.metrics.metrics chooses from; each is logged as val/<name>.
METRICS = ("fid", "kid", "is", "precision", "recall", "density", "coverage")
MANIFOLD = ("precision", "recall", "density", "coverage")
IS_SPLITS = 10  # the Inception Score's protocol: the mean and std over 10 splits of the samples

# A digit "appears" in the samples when it gets at least a quarter of its fair share of the
# predictions (a uniform generator gives each 10%): robust to a 98%-accurate classifier's
# stray mistakes, strict enough to miss a digit the generator has all but dropped.
COVERAGE_SHARE = 0.025


def check_metrics(metrics: Sequence[str], num_samples: int, precision_recall_k: int = 3,
                  density_coverage_k: int = 5) -> tuple[str, ...]:
    """The chosen metric names, or a ConfigError naming the first one that cannot be measured."""
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for name in metrics:
        if name not in METRICS:
            raise ConfigError(f"Unknown metric {name!r} in callbacks.metrics.metrics: choose from "
                              f"{', '.join(METRICS)}, e.g. callbacks.metrics.metrics=[fid,kid,is].")
    if "fid" not in metrics:
        raise ConfigError(f"callbacks.metrics.metrics=[{','.join(metrics)}] leaves out fid, which picks best.ckpt "
                          f"and the run's hp_metric: add fid, or turn metrics off with callbacks.metrics.feature=null.")
    if "is" in metrics and num_samples < 2 * IS_SPLITS:
        raise ConfigError(f"The Inception Score splits the samples into {IS_SPLITS} groups, and "
                          f"callbacks.metrics.num_samples={num_samples} gives fewer than 2 a group: use 20 or more, "
                          f"or leave is out of callbacks.metrics.metrics.")
    k = max([precision_recall_k] * any(m in metrics for m in ("precision", "recall"))
            + [density_coverage_k] * any(m in metrics for m in ("density", "coverage")), default=0)
    if k and num_samples <= k:
        raise ConfigError(f"Precision, recall, density and coverage look for each sample's {k}th nearest neighbour, "
                          f"so callbacks.metrics.num_samples={num_samples} is too few: use {k + 1} or more.")
    return metrics


class QualityMeter:
    """Feed the real images once (`add_real`), then `measure` any sampler as often as needed."""

    def __init__(self, extractor: nn.Module, metrics: Sequence[str] = METRICS, kid_subset_size: int = 1000,
                 kid_subsets: int = 50, batch_size: int = 500, precision_recall_k: int = 3,
                 density_coverage_k: int = 5):
        self.extractor = extractor
        self.metrics = tuple(metrics)
        self.fid, self.kid = build_metrics(extractor.num_features, kid_subset_size, kid_subsets)
        self.inception_score = build_inception_score(extractor.num_classes)
        self.kid_subset_size, self.batch_size = kid_subset_size, batch_size
        self.precision_recall_k, self.density_coverage_k = precision_recall_k, density_coverage_k
        self.real_features: Tensor | None = None

    @property
    def real_count(self) -> int:
        return 0 if self.real_features is None else self.real_features.shape[0]

    def to(self, device) -> "QualityMeter":
        for module in (self.fid, self.kid, self.inception_score, self.extractor):
            module.to(device)
        self.device = torch.device(device)
        return self

    @torch.no_grad()
    def add_real(self, images: Tensor) -> None:
        """uint8 (N, C, H, W) training images."""
        features = torch.cat([self.extractor(to_signed_unit(chunk.to(self.device)))
                              for chunk in images.split(self.batch_size)])
        self.fid.update(features, real=True)
        self.kid.update(features, real=True)
        self.real_features = features if self.real_features is None else torch.cat([self.real_features, features])

    @torch.no_grad()
    def measure(self, sample: Callable[..., Tensor], num_samples: int, labels: Tensor | None = None,
                class_names: list[str] | None = None) -> dict[str, float]:
        """The chosen metrics of `num_samples` images from `sample(n)` (in [-1, 1]), or from
        `sample(n, labels=...)` for the given class `labels` (conditional), as
        {"val/<name>": value} (and val/kid_std, val/is_std); the real statistics stay. With the
        digit classifier also val/class_coverage, and when the classes (`class_names`) are its
        digits val/class_accuracy: how often it sees the digit asked for."""
        chunks = []
        for start in range(0, num_samples, self.batch_size):
            count = min(self.batch_size, num_samples - start)
            images = sample(count) if labels is None else sample(count, labels=labels[start:start + count])
            chunks.append(self.extractor(images.float()))  # (bf16 or float64 under a "-true" precision)
        fake = torch.cat(chunks)
        values = {}
        self.fid.update(fake, real=False)
        values["val/fid"] = float(self.fid.compute())
        self.fid.reset()  # keeps the real statistics (reset_real_features=False)
        if "kid" in self.metrics:
            self.kid.update(fake, real=False)
            self.kid.subset_size = min(self.kid_subset_size, self.real_count, num_samples)
            kid_mean, kid_std = self.kid.compute()
            values.update({"val/kid": float(kid_mean), "val/kid_std": float(kid_std)})
            self.kid.reset()
        # The samples' total variance in feature space over the real images': far below 1, too little variety
        values["val/feature_spread"] = float(fake.float().var(0).sum() / self.real_features.float().var(0).sum())
        logits = self.extractor.logits(fake)
        if "is" in self.metrics:
            self.inception_score.update(logits)
            score, spread = self.inception_score.compute()
            values.update({"val/is": float(score), "val/is_std": float(spread)})
            self.inception_score.reset()
        if any(name in self.metrics for name in MANIFOLD):
            manifold = precision_recall_density_coverage(self.real_features.cpu(), fake.cpu(),
                                                         self.precision_recall_k, self.density_coverage_k)
            values.update({f"val/{name}": manifold[name] for name in MANIFOLD if name in self.metrics})
        if getattr(self.extractor, "digits", False):
            predictions = logits.argmax(1)
            shares = torch.bincount(predictions, minlength=10).float() / predictions.shape[0]
            values["val/class_coverage"] = float((shares >= COVERAGE_SHARE).sum())
            if labels is not None and class_names == DIGITS:
                values["val/class_accuracy"] = float((predictions == labels.to(predictions.device)).float().mean())
        return values


def build_inception_score(num_classes: int):
    """torchmetrics' Inception Score over precomputed class logits."""
    from torchmetrics.image.inception import InceptionScore

    with warnings.catch_warnings():  # "saves all features": the logits of num_samples images, by design
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        return InceptionScore(feature=Precomputed(num_classes), splits=IS_SPLITS, sync_on_compute=False)
