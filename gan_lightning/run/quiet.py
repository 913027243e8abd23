"""Library messages a user of this template cannot act on, filtered narrowly at their source."""

import logging
import warnings


class _DropMessages(logging.Filter):
    def __init__(self, *starts: str):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def quiet_library_noise() -> None:
    # Lightning 2.6's own pytree helper still builds torch's deprecated LeafSpec.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)
    # Epochs shorter than the logging interval: step scalars are written every log_every_n_steps
    # generator steps of the run, not of each epoch, so they do appear (Lightning says they would not).
    warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging "
                            r"interval")
    # trainer.precision=bf16-mixed: the model summary sizes the weights as float32, which they are.
    warnings.filterwarnings("ignore", message=r"Precision \S+ is not supported by the model summary")
    # An advertisement for a cloud logger, printed at every run.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropMessages("💡 Tip: For seamless cloud"))
    # logger=mlflow's first run in a store: the experiment is made, as it should be.
    logging.getLogger("lightning.pytorch.loggers.mlflow").addFilter(_DropMessages("Experiment with name"))
    # compile=true on a CPU: Inductor looks for a CUDA toolkit it will not use.
    logging.getLogger("torch.utils.cpp_extension").addFilter(_DropMessages("No CUDA runtime is found"))


def quiet_sweeper_plugins() -> None:
    """Before Hydra starts a sweep: hparams_search=optuna's database layer (alembic) announces
    each of its plugins, seven lines at INFO, as the sweeper loads."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
