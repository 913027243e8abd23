"""Quality metrics: FID/KID with the project's digit classifier or Inception features."""

from pathlib import Path

import torch

from gan_lightning.checkpoint import load_generator
from gan_lightning.metrics.features import build_extractor, resolve_feature
from gan_lightning.metrics.quality import QualityMeter

__all__ = ["QualityMeter", "evaluate_checkpoint"]


def evaluate_checkpoint(ckpt: str | Path, datamodule, feature: str = "auto", classifier_path: str | None = None,
                        inception_weights: str | None = None, num_samples: int = 2000, seed: int = 0,
                        device: str = "cpu") -> dict[str, float]:
    """FID/KID (and digit statistics) of a checkpoint's generator (EMA when present) against
    `num_samples` real images of `datamodule`: the numbers the training callback logs."""
    generator, hparams = load_generator(ckpt, ema=True, device=device)
    kind = resolve_feature(feature, hparams["image_shape"])
    meter = QualityMeter(build_extractor(kind, classifier_path, inception_weights)).to(device)
    datamodule.setup("fit")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        meter.add_real(datamodule.real_images(num_samples, seed=seed))
        return meter.measure(lambda n: generator(torch.randn(n, hparams["latent_dim"], device=device)), num_samples)
