"""logger=tensorboard|csv|mlflow|wandb, alone or several at once: each receives the same scalars,
the run's hyperparameters (the composed config's keys that change a run) and its best FID;
a resumed run continues its own record. All offline."""

import csv
import glob

import pytest
import torch
import yaml
from helpers.wandb_records import history_and_config
from omegaconf import OmegaConf

from conftest import read_scalars, run_cli
from gan_lightning.errors import ConfigError
from gan_lightning.loggers import run_hparams
from gan_lightning.loggers.tensorboard import HPARAMS_METRICS

RUN = ("trainer.max_epochs=1", "trainer.limit_train_batches=6", "trainer.log_every_n_steps=2",
       "trainer.enable_progress_bar=false", "callbacks.metrics.num_samples=64", "data.batch_size=16", "seed=7")


def _csv_rows(run_dir):
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def _csv_series(rows, name):
    return [(int(float(row["step"])), float(row[name])) for row in rows if row.get(name)]


def _mlflow_run(cwd, run_dir):
    run_id = (run_dir / ".mlflow_run_id").read_text().strip()
    found = glob.glob(str(cwd / "outputs" / "mlruns" / "*" / run_id))
    assert len(found) == 1, found
    return run_id, found[0]


def _mlflow_series(run, name):
    with open(f"{run}/metrics/{name}") as file:  # the file store: "<time> <value> <step>" per line
        return [(int(step), float(value)) for _, value, step in (line.split() for line in file)]


@pytest.fixture(scope="module")
def four_loggers(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("loggers")
    run_cli("logger=[tensorboard,csv,mlflow,wandb]", *RUN, "hydra.run.dir=run", cwd=cwd)
    return cwd, cwd / "run"


def test_every_logger_gets_the_same_scalars_and_best_fid(four_loggers):
    cwd, run_dir = four_loggers
    tensorboard = read_scalars(run_dir / "tensorboard")
    rows = _csv_rows(run_dir)
    _, mlflow_run = _mlflow_run(cwd, run_dir)
    wandb_history, _ = history_and_config(glob.glob(str(run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))[0])
    for name in ("train/loss_g", "train/D_x", "val/fid", "val/fid_best", "val/is", "val/precision", "hp_metric"):
        expected = [(step, pytest.approx(value, rel=1e-6)) for step, value in tensorboard[name]]
        assert expected, name
        assert _csv_series(rows, name) == expected, name
        assert _mlflow_series(mlflow_run, name) == expected, name
        assert wandb_history[name] == expected, name
    # the x-axis is the generator step everywhere: loss every 2 steps, FID after the epoch's 6
    assert [step for step, _ in tensorboard["train/loss_g"]] == [2, 4, 6]
    assert tensorboard["val/fid_best"][-1][0] == 6


def test_every_logger_records_the_run_not_only_the_model(four_loggers):
    cwd, run_dir = four_loggers
    _, mlflow_run = _mlflow_run(cwd, run_dir)
    _, wandb_config = history_and_config(glob.glob(str(run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))[0])
    for hparams in (yaml.safe_load((run_dir / "tensorboard" / "hparams.yaml").read_text()),
                    yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text()), wandb_config):
        assert hparams["seed"] == 7 and hparams["preset"] == "quickstart"
        assert hparams["data"] == {"name": "mnist5k", "batch_size": 16, "image_size": 32, "limit": None}
        assert hparams["trainer"]["max_epochs"] == 1 and hparams["trainer"]["precision"] == "32-true"
        assert hparams["callbacks"]["metrics"]["num_samples"] == 64
        assert hparams["lr"] == 4e-3 and hparams["net"]["name"] == "dcgan"  # the model's, as before
        assert "root" not in hparams["data"] and "log_every_n_steps" not in hparams["trainer"]
    with open(f"{mlflow_run}/params/data/batch_size") as file:
        assert file.read() == "16"
    # the hparams tab shows the final quality numbers beside hp_metric
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    declared = set()
    for path in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/experiment":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    declared |= {info.name.tag for info in data.experiment.metric_infos}
    assert declared == set(HPARAMS_METRICS)


def test_runs_that_differ_in_a_config_key_differ_in_their_hparams():
    cfg = OmegaConf.create({"seed": 1, "conditional": False, "max_generator_steps": None,
                            "data": {"_target_": "x", "root": "data", "batch_size": 16, "num_workers": 0},
                            "trainer": {"max_epochs": 3, "enable_progress_bar": False},
                            "paths": {"output_dir": "somewhere"}, "logger": {"csv": {"name": "csv"}}})
    small = run_hparams(cfg, {"lr": 2e-4}, {"data": "mnist", "model": "dcgan"})
    cfg.data.batch_size = 64
    large = run_hparams(cfg, {"lr": 2e-4}, {"data": "mnist", "model": "dcgan"})
    assert small["data"] == {"name": "mnist", "batch_size": 16} and large["data"]["batch_size"] == 64
    assert small == {"lr": 2e-4, "preset": "dcgan", "seed": 1, "conditional": False, "max_generator_steps": None,
                     "data": {"name": "mnist", "batch_size": 16}, "trainer": {"max_epochs": 3}}


def test_a_resumed_run_continues_its_csv_and_mlflow_records(tmp_path):
    run_cli("logger=[csv,mlflow]", *RUN, "hydra.run.dir=run", cwd=tmp_path)
    run_dir = tmp_path / "run"
    first_id, _ = _mlflow_run(tmp_path, run_dir)
    run_cli(f"resume={run_dir}", "trainer.max_epochs=2", cwd=tmp_path)
    second_id, mlflow_run = _mlflow_run(tmp_path, run_dir)
    assert second_id == first_id and len(glob.glob(str(tmp_path / "outputs" / "mlruns" / "*" / "*" / "meta.yaml"))) == 1
    steps = [step for step, _ in _csv_series(_csv_rows(run_dir), "train/loss_g")]
    assert steps == [2, 4, 6, 8, 10, 12]  # the first epoch's rows kept, the second's added
    assert [step for step, _ in _mlflow_series(mlflow_run, "train/loss_g")] == steps
    # MLflow params cannot change: the larger budget is the run's tag of the same name
    assert open(f"{mlflow_run}/params/trainer/max_epochs").read() == "1"
    assert open(f"{mlflow_run}/tags/trainer/max_epochs").read() == "2"
    assert yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text())["trainer"]["max_epochs"] == 2


def test_a_missing_tracker_package_or_wandb_login_is_one_sentence(tmp_path, monkeypatch):
    import importlib.util

    from gan_lightning.loggers import MLFlowLogger

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real_find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"logger=mlflow needs the mlflow package, which is not installed: "
                                          r"pip install -e \"\.\[loggers\]\""):
        MLFlowLogger(run_dir=str(tmp_path), tracking_uri=f"file:{tmp_path}/mlruns")
    monkeypatch.undo()
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb_config"))  # no saved login either
    proc = run_cli("logger=wandb", "logger.wandb.offline=false", *RUN, "hydra.run.dir=run", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    assert len(lines) == 1 and "logger=wandb could not start a W&B run" in lines[0], proc.stderr[-2000:]
    assert "wandb login" in lines[0] and "logger.wandb.offline=true" in lines[0]
    assert not (tmp_path / "run").exists()  # refused before training: nothing written


def test_a_resumed_runs_event_files_read_in_the_order_they_were_written(tmp_path):
    """In one process (a notebook, these tests) a run stopped and resumed within one second writes
    two event files whose names differ only in the writer's number: writer 10 sorts before 9 as
    text. The points come back in step order, and what the resumed writer purges stays gone."""
    from torch.utils.tensorboard import SummaryWriter

    for name, purge_step, steps in (("first", None, range(1, 16)), ("resumed", 14, range(14, 31))):
        writer = SummaryWriter(tmp_path / name, purge_step=purge_step)
        for step in steps:  # the first writer got to 15 after its last checkpoint (step 13)
            writer.add_scalar("loss", float(step), step)
            if step % 10 == 0:
                writer.add_image("grid", torch.zeros(1, 2, 2), step)
        writer.close()
    for name, number in (("first", 9), ("resumed", 10)):
        (file,) = (tmp_path / name).iterdir()
        file.rename(tmp_path / f"events.out.tfevents.1700000000.host.123.{number}")
    assert sorted(p.name for p in tmp_path.glob("events.*"))[0].endswith(".10")  # the resumed file first as text
    scalars = read_scalars(tmp_path)
    assert scalars["loss"] == [(step, float(step)) for step in range(1, 31)]
    assert scalars["__images__"] == {"grid": [10, 20, 30]}
