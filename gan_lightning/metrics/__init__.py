"""Quality metrics: FID, KID, IS, precision/recall, density/coverage on the project's digit
classifier's or Inception's features."""

from pathlib import Path

import torch

from gan_lightning.metrics.features import build_extractor, resolve_feature
from gan_lightning.metrics.quality import METRICS, QualityMeter, check_metrics
from gan_lightning.models.checkpoint_file import load_generator
from gan_lightning.nets.conditional import with_labels

__all__ = ["METRICS", "QualityMeter", "evaluate_checkpoint"]


def evaluate_checkpoint(ckpt: str | Path, datamodule, feature: str = "auto", classifier_path: str | None = None,
                        inception_weights: str | None = None, num_samples: int = 2000, seed: int = 0,
                        device: str = "cpu", metrics=METRICS, inception_resize: str = "tensorflow",
                        precision_recall_k: int = 3, density_coverage_k: int = 5) -> dict[str, float]:
    """The chosen `metrics` (and digit statistics) of a checkpoint's generator (EMA when
    present) against `num_samples` real images of `datamodule`: the numbers the training
    callback logs (for a conditional checkpoint: classes drawn with the data's frequencies, and
    class accuracy)."""
    metrics = check_metrics(metrics, num_samples, precision_recall_k, density_coverage_k)
    generator, hparams = load_generator(ckpt, ema=True, device=device)
    kind = resolve_feature(feature, hparams["image_shape"])
    extractor = build_extractor(kind, classifier_path, inception_weights, inception_resize)
    meter = QualityMeter(extractor, metrics, precision_recall_k=precision_recall_k,
                         density_coverage_k=density_coverage_k).to(device)
    conditional = hparams.get("num_classes") is not None
    if conditional:
        datamodule.use_labels()
    datamodule.setup("fit")

    def draw(n: int, labels=None):
        return with_labels(generator, torch.randn(n, hparams["latent_dim"], device=device),
                           None if labels is None else labels.to(device))

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        meter.add_real(datamodule.real_images(num_samples, seed=seed))
        labels = datamodule.draw_labels(num_samples) if conditional else None
        return meter.measure(draw, num_samples, labels, hparams.get("class_names"))
