"""TensorBoard logging: Lightning's logger without its placeholder hp_metric point."""

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's TensorBoardLogger, except that the hparams tab learns of `hp_metric` without
    a -1 point at step 0 (Lightning's default_hp_metric): every hp_metric point is a real value.

    Extra keyword arguments go to SummaryWriter.
    """

    def continue_after(self, step: int) -> None:
        """A resumed run: points a killed run logged after `step` (its checkpoint's) are hidden
        instead of drawn twice (SummaryWriter's purge_step; call before the first point)."""
        self._kwargs["purge_step"] = step + 1

    @rank_zero_only
    def log_hyperparams(self, params, metrics=None, step=None) -> None:
        if metrics is not None:
            return super().log_hyperparams(params, metrics, step)
        super().log_hyperparams(params, metrics={}, step=step)  # hparams.yaml; no scalar
        from torch.utils.tensorboard.summary import hparams

        flat = self._sanitize_params(_flatten_dict(_convert_params(params)))
        writer = self.experiment._get_file_writer()
        for summary in hparams(flat, {"hp_metric": 0.0}):  # declares the metric, logs no point
            writer.add_summary(summary, step)
