"""`logger=csv`: <run dir>/csv/metrics.csv (one row per logged step) and hparams.yaml."""

import csv
import warnings
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger


class CSVLogger(LightningCSVLogger):
    """Lightning's CSVLogger, except that a resumed run keeps its file: Lightning deletes an
    existing metrics.csv; here the rows up to the checkpoint's step stay and the ones a killed
    run wrote after it go (as TensorBoard's purge_step does)."""

    _kept: list[dict] | None = None

    def continue_after(self, step: int) -> None:
        path = Path(self.log_dir) / "metrics.csv"
        if path.is_file():
            with open(path, newline="") as file:
                self._kept = [row for row in csv.DictReader(file) if row.get("step") and float(row["step"]) <= step]

    @property
    def experiment(self):
        with warnings.catch_warnings():  # "previous log files will be deleted": the kept rows are written back below
            warnings.filterwarnings("ignore", message=".*Previous log files in this directory will be deleted")
            writer = super().experiment
        if self._kept is not None:  # the writer has just removed the old file: the kept rows come first
            writer.metrics, self._kept = [*self._kept, *writer.metrics], None
        return writer
