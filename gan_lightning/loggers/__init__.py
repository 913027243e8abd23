"""Where a run's numbers go: `logger=tensorboard` (the default), `csv`, `mlflow`, `wandb`, or
several at once (`logger=[tensorboard,csv]`). Each receives the same scalars (x-axis: generator
steps), the run's hyperparameters (run_hparams.py: the model's and the composed config's keys that
change a run) and its best FID (`val/fid_best`, `hp_metric`); a resumed run continues its own
record in each. Sample grids go to TensorBoard (and always to <run dir>/samples).
"""

from gan_lightning.loggers.csv_file import CSVLogger
from gan_lightning.loggers.run_hparams import RecordHparams, run_hparams
from gan_lightning.loggers.tensorboard import TensorBoardLogger
from gan_lightning.loggers.trackers import MLFlowLogger, WandbLogger

__all__ = ["CSVLogger", "MLFlowLogger", "RecordHparams", "TensorBoardLogger", "WandbLogger", "run_hparams"]
