"""Experiment trackers: `logger=mlflow` (a local file store) and `logger=wandb` (offline by
default: no account needed; `wandb sync` uploads later).

A run directory keeps its tracker run's id (`.mlflow_run_id`, `.wandb_run_id`), written when the
tracker run starts (as fitting starts), so `resume=RUN_DIR` continues the same tracker
run instead of starting a second one.
"""

import importlib.util
import os
from pathlib import Path

from lightning.fabric.utilities.logger import _convert_params, _flatten_dict
from lightning.pytorch.loggers import MLFlowLogger as LightningMLFlowLogger
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_only

from gan_lightning.errors import ConfigError


def _require(module: str, choice: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{choice} needs the {module} package, which is not installed: "
                          f"pip install -e \".[loggers]\" (or pip install {package}).")


def _refuse_unreachable(uri: str, seconds: float = 5.0) -> None:
    """An http(s) tracking server that does not answer: one sentence now, before the run starts,
    instead of MLflow's retries (minutes) and tracebacks at the first logged value. Through the
    proxies MLflow itself would use (urllib reads the same *_proxy variables)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(uri, timeout=seconds).close()
    except urllib.error.HTTPError:  # it answered (a status page, a 404): a server is there
        return
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        where = urllib.parse.urlsplit(uri)
        raise ConfigError(f"logger.mlflow.tracking_uri={uri} does not answer within {seconds:.0f} s ({reason}): "
                          f"start the MLflow server there (mlflow server --host {where.hostname} --port "
                          f"{where.port or 5000}), or log to a local store with "
                          f"logger.mlflow.tracking_uri=file:outputs/mlruns.") from None


class _KeepsRunId:
    """Remembers the tracker's run id in the run directory once the tracker run exists."""

    id_file: Path

    def _saved_id(self) -> str | None:
        return self.id_file.read_text().strip() if self.id_file.is_file() else None

    def _save_id(self, run_id: str) -> None:
        if not self.id_file.is_file():
            self.id_file.parent.mkdir(parents=True, exist_ok=True)
            self.id_file.write_text(f"{run_id}\n")


class MLFlowLogger(_KeepsRunId, LightningMLFlowLogger):
    """Lightning's MLFlowLogger on a local file store (`mlflow ui --backend-store-uri
    outputs/mlruns` shows every run), continuing the same MLflow run on resume."""

    def __init__(self, run_dir: str, tracking_uri: str, experiment_name: str = "gan_lightning", **kwargs):
        _require("mlflow", "logger=mlflow", "mlflow-skinny")
        # MLflow 3 refuses file stores unless asked (it prefers a database): the local store, by choice
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.id_file = Path(run_dir) / ".mlflow_run_id"
        if tracking_uri.startswith("file:"):  # absolute: MLflow caches a store per URI string
            tracking_uri = Path(tracking_uri.removeprefix("file:")).expanduser().resolve().as_uri()
        _refuse_unreachable(tracking_uri)
        super().__init__(experiment_name=experiment_name, tracking_uri=tracking_uri, run_id=self._saved_id(),
                         run_name=kwargs.pop("run_name", None) or Path(run_dir).name, **kwargs)

    @property
    def experiment(self):
        client = super().experiment
        if self._run_id is not None:
            self._save_id(self._run_id)
        return client

    @rank_zero_only
    def log_hyperparams(self, params) -> None:
        """MLflow params cannot change, and a resumed run may have a larger budget: a value that
        differs from the one logged goes to the run's tags (same key), which show the latest."""
        flat = {key: str(value) for key, value in _flatten_dict(_convert_params(params)).items()}
        logged = self.experiment.get_run(self.run_id).data.params
        for key, value in flat.items():
            if key in logged and logged[key] != value:
                self.experiment.set_tag(self.run_id, key, value)
        super().log_hyperparams({key: value for key, value in flat.items() if key not in logged})


class WandbLogger(_KeepsRunId, LightningWandbLogger):
    """Lightning's WandbLogger writing into <run dir>/wandb, offline unless `offline=false`
    (which needs `wandb login`), continuing the same W&B run on resume."""

    def __init__(self, run_dir: str, project: str = "gan_lightning", offline: bool = True, **kwargs):
        _require("wandb", "logger=wandb", "wandb")
        self.id_file = Path(run_dir) / ".wandb_run_id"
        self.offline_mode = offline
        saved = self._saved_id()
        if saved is not None:
            kwargs.update(id=saved, resume="allow")
        if not offline and "WANDB_MODE" not in os.environ:  # online as asked, whatever an earlier run set up
            kwargs.setdefault("mode", "online")
        super().__init__(project=project, save_dir=run_dir, offline=offline,
                         name=kwargs.pop("name", None) or Path(run_dir).name, **kwargs)
        self._wandb_init.pop("anonymous", None)  # Lightning passes it; wandb warns that it does nothing

    @property
    def experiment(self):
        import wandb

        try:
            run = super().experiment
        except wandb.errors.UsageError as err:  # online without an API key
            raise ConfigError(f"logger=wandb could not start a W&B run ({str(err).splitlines()[0]}): log in with "
                              f"`wandb login`, or log offline with logger.wandb.offline=true.") from err
        if getattr(run, "id", None):
            self._save_id(run.id)
        return run

    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._experiment is not None and hasattr(self._experiment, "finish"):  # a next run in this process starts its own
            self._experiment.finish(exit_code=0 if status == "success" else 1)
            self._experiment = None
