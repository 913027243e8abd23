"""Quality metrics during training, against real statistics computed once per run.

Every `every_n_epochs` epochs (and after the first and the last epoch) rank zero draws
`num_samples` images from G (the EMA generator when it is on) for a fixed set of noise
vectors, and logs the chosen `metrics` (val/fid, val/kid, val/is, val/precision, val/recall,
val/density, val/coverage: metrics/quality.py), the best-so-far `val/fid_best` (also
`hp_metric`, the run's return value for sweeps) and `val/eval_seconds`; with the `mnist`
features also `val/class_coverage`. RunCheckpoint keeps best.ckpt by `val/fid`.

`hp_metric`, the run's one quality number (TensorBoard's hparams tab, a sweep's objective), is
this callback's: the best FID, or without FID the critic's divergence estimate of the epoch.

A conditional run draws its samples' classes with the data's class frequencies (so FID
compares like with like) and, on digits, logs `val/class_accuracy`: the share of samples the
classifier reads as the digit G was asked for.
"""

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch

from gan_lightning.errors import ConfigError, require_number
from gan_lightning.loggers.write_now import write_now
from gan_lightning.metrics.features import build_extractor, check_resize, resolve_feature
from gan_lightning.metrics.quality import METRICS, QualityMeter, check_metrics

log = logging.getLogger(__name__)
KID_SUBSET_SIZE = 1000  # kid_subset_size=null: torchmetrics' default, or every sample when there are fewer


class QualityMetrics(L.Callback):
    def __init__(self, feature: str | None = "auto", every_n_epochs: int = 10, num_samples: int = 2000,
                 metrics: Sequence[str] = METRICS, kid_subset_size: int | None = None, kid_subsets: int = 50,
                 precision_recall_k: int = 3, density_coverage_k: int = 5, classifier_path: str | None = None,
                 train_missing_classifier: bool = True, inception_weights: str | None = None,
                 inception_resize: str = "tensorflow", batch_size: int = 500, seed: int = 0):
        for key, value, example in (("every_n_epochs", every_n_epochs, 10), ("num_samples", num_samples, 2000),
                                    ("kid_subsets", kid_subsets, 50), ("batch_size", batch_size, 500),
                                    ("precision_recall_k", precision_recall_k, 3),
                                    ("density_coverage_k", density_coverage_k, 5)):
            require_number(f"callbacks.metrics.{key}", value, integer=True, example=example)
        if num_samples < 2:
            raise ConfigError(f"callbacks.metrics.num_samples={num_samples} gives no spread to measure: use 2 or "
                              f"more, e.g. callbacks.metrics.num_samples=2000.")
        kid_subset_size = self._kid_subset_size(kid_subset_size, num_samples, metrics if feature else ())
        # (with metrics off, feature=null, the list is not used and not checked)
        self.metrics = check_metrics(metrics, num_samples, precision_recall_k, density_coverage_k) if feature else ()
        self.precision_recall_k, self.density_coverage_k = precision_recall_k, density_coverage_k
        check_resize(inception_resize)
        self.inception_resize = inception_resize
        self.feature, self.every_n_epochs, self.num_samples = feature, every_n_epochs, num_samples
        self.kid_subset_size, self.kid_subsets = kid_subset_size, kid_subsets
        self.batch_size, self.seed = batch_size, seed
        self.classifier_path = classifier_path
        self.train_missing_classifier, self.inception_weights = train_missing_classifier, inception_weights
        self.enabled = False
        self.best = math.inf

    @staticmethod
    def _kid_subset_size(size: int | None, num_samples: int, metrics: Sequence[str]) -> int:
        """KID's subset size: null is 1000 or all the samples when fewer; a larger one than there
        are samples is refused rather than cut down unseen."""
        if size is None:
            return min(KID_SUBSET_SIZE, num_samples)
        require_number("callbacks.metrics.kid_subset_size", size, integer=True,
                       example=min(KID_SUBSET_SIZE, num_samples))
        if "kid" in metrics and size > num_samples:
            raise ConfigError(f"callbacks.metrics.kid_subset_size={size} is more than the {num_samples} samples "
                              f"drawn (callbacks.metrics.num_samples={num_samples}): use "
                              f"callbacks.metrics.kid_subset_size={num_samples} or less, or raise "
                              f"callbacks.metrics.num_samples to {size}.")
        return size

    # ---- set-up on rank zero; a failure the user did not ask for only turns metrics off ----

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.feature is None:
            return
        self.kind = resolve_feature(self.feature, pl_module.hparams.image_shape)
        if trainer.is_global_zero:
            try:
                self._build(trainer, pl_module)
                self.enabled = True
            except ConfigError as err:
                if self.feature != "auto":  # asked for explicitly: stop
                    raise
                log.warning("No FID/KID in this run: %s", err)
        self.enabled = trainer.strategy.broadcast(self.enabled, src=0)

    def _build(self, trainer, pl_module) -> None:
        if self.kind == "mnist":
            if not self.classifier_path:
                raise ConfigError("callbacks.metrics.classifier_path is not set: point it at a classifier file.")
            path = Path(self.classifier_path)
            if not path.is_file() and self.train_missing_classifier and hasattr(trainer.datamodule, "labelled"):
                from gan_lightning.metrics.train_classifier import train_classifier

                log.info("Training the digit classifier for FID/KID once (saved to %s).", path)
                with torch.random.fork_rng():
                    train_classifier(trainer.datamodule, path, getattr(trainer.datamodule, "name", "data"))
        extractor = build_extractor(self.kind, self.classifier_path, self.inception_weights, self.inception_resize)
        self.meter = QualityMeter(extractor, self.metrics, self.kid_subset_size, self.kid_subsets, self.batch_size,
                                  self.precision_recall_k, self.density_coverage_k)

    # ---- evaluation -----------------------------------------------------------------------

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.enabled:  # the stand-in: the epoch's divergence estimate, averaged over ranks
            divergence = pl_module.epoch_divergence()
            if divergence is not None:
                pl_module.log("hp_metric", divergence, sync_dist=True)
            return
        epoch = trainer.current_epoch + 1
        last = trainer.should_stop or (trainer.max_epochs not in (None, -1) and epoch >= trainer.max_epochs)
        if not (epoch == 1 or epoch % self.every_n_epochs == 0 or last):
            return
        self.evaluated_step = pl_module.generator_steps  # (the health callback reads this evaluation)
        values = self.evaluate(trainer, pl_module) if trainer.is_global_zero else None
        values = trainer.strategy.broadcast(values, src=0)  # every rank logs the same numbers
        # Straight to the loggers and flushed: a Ctrl-C during the epoch's checkpoint still keeps
        # the evaluation; and into callback_metrics, what best.ckpt and the run's return value read.
        write_now(trainer, values, pl_module.generator_steps)
        if trainer.is_global_zero:  # (one line, not one per DDP rank)
            log.info("%s at %d generator steps; evaluated in %.1f s", summary(values), pl_module.generator_steps,
                     values["val/eval_seconds"])

    def evaluate(self, trainer, pl_module) -> dict[str, float]:
        start = time.perf_counter()
        device = pl_module.device
        self.meter.to(device)
        # Evaluation draws its own, fixed noise and must not shift training's random stream.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            if self.meter.real_count == 0:  # real statistics: once per run
                self.meter.add_real(trainer.datamodule.real_images(self.num_samples, seed=self.seed))
            labels = trainer.datamodule.draw_labels(self.num_samples) if pl_module.conditional else None
            values = self.meter.measure(pl_module.sample, self.num_samples, labels,
                                        pl_module.hparams.get("class_names"))
        self.best = min(self.best, values["val/fid"])
        values.update({"val/fid_best": self.best, "hp_metric": self.best,
                       "val/eval_seconds": time.perf_counter() - start})
        return values

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict) -> None:
        self.best = state_dict.get("best", math.inf)


def summary(values: dict[str, float]) -> str:
    """'FID 41.2 (best 40.9), KID 0.01234, IS 8.12, ...': one evaluation in a log line."""
    parts = [f"FID {values['val/fid']:.3f}" + (f" (best {values['val/fid_best']:.3f})" if "val/fid_best" in values else "")]
    for name, label, digits in (("kid", "KID", 5), ("is", "IS", 2), ("precision", "precision", 3),
                                ("recall", "recall", 3), ("density", "density", 3), ("coverage", "coverage", 3),
                                ("class_accuracy", "class accuracy", 3)):
        if f"val/{name}" in values:
            parts.append(f"{label} {values[f'val/{name}']:.{digits}f}")
    return ", ".join(parts)
