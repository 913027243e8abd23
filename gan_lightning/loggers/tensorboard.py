"""TensorBoard logging: Lightning's logger without its placeholder hp_metric point, whose hparams
tab shows each run's final metrics beside hp_metric."""

from pathlib import Path

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

# The scalars the hparams tab shows beside the hyperparameters: each run's latest value.
HPARAMS_METRICS = ("hp_metric", "val/fid_best", "val/fid", "val/kid", "val/is", "val/precision", "val/recall",
                   "val/density", "val/coverage", "train/divergence")


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's TensorBoardLogger, except that the hparams tab learns of its metrics (`hp_metric`
    and the final quality numbers, HPARAMS_METRICS) without a -1 point at step 0 (Lightning's
    default_hp_metric): every point is a real value.

    Extra keyword arguments go to SummaryWriter.
    """

    def continue_after(self, step: int) -> None:
        """A resumed run: points a killed run logged after `step` (its checkpoint's) are hidden
        instead of drawn twice (SummaryWriter's purge_step; call before the first point)."""
        self._kwargs["purge_step"] = step + 1

    @rank_zero_only
    def log_png(self, tag: str, png: bytes, shape: tuple[int, int, int], step: int) -> None:
        """An image already encoded as PNG, of (height, width, channels) `shape`: add_image without
        encoding it a second time (the sample grid's file has the same bytes)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        height, width, channels = shape
        image = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png)
        # private torch: SummaryWriter's public add_image would encode the PNG again
        self.experiment._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    @rank_zero_only
    def log_hyperparams(self, params, metrics=None, step=None) -> None:
        if metrics is not None:
            return super().log_hyperparams(params, metrics, step)
        super().log_hyperparams(params, metrics={}, step=step)  # hparams.yaml; no scalar
        from torch.utils.tensorboard.summary import hparams

        flat = self._sanitize_params(_flatten_dict(_convert_params(params)))
        writer = self.experiment._get_file_writer()
        for summary in hparams(flat, dict.fromkeys(HPARAMS_METRICS, 0.0)):  # declares the metrics, logs no point
            writer.add_summary(summary, step)
        # Lightning writes hparams.yaml only where there is none yet: a resume that switched a key
        # (resume=RUN_DIR channels_last=false) would leave the first part's values in it.
        save_hparams_to_yaml(Path(self.log_dir) / self.NAME_HPARAMS_FILE, self.hparams)
