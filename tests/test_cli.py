"""The real entry point, `python -m gan_lightning`, run as a user runs it (from another directory)."""

import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from conftest import read_scalars, run_cli, write_mnist_idx

COMMON = ("trainer.max_epochs=1", "trainer.limit_train_batches=10", "trainer.log_every_n_steps=1",
          "trainer.enable_progress_bar=false", "callbacks.metrics.num_samples=256")
VARIANT_SCALARS = {
    "gan": set(),
    "dcgan": set(),
    "wgan": {"train/wasserstein"},
    "wgan_gp": {"train/wasserstein", "train/gp"},
}
N_CRITIC = {"gan": 1, "dcgan": 1, "wgan": 5, "wgan_gp": 5}


def test_the_epochs_divergence_is_the_mean_of_its_steps_estimates_and_stands_in_for_hp_metric(tmp_path):
    import math

    run_cli("model=dcgan", "net.g_features=4", "net.d_features=4", "data.batch_size=8", "trainer.max_epochs=2",
            "trainer.limit_train_batches=5", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
            "callbacks.metrics.feature=null", "hydra.run.dir=run", cwd=tmp_path)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    loss_d = [value for _, value in scalars["train/loss_d"]]
    # BCE's estimate is log 2 - loss_d / 2 at each G step; each epoch logs the mean of its five
    expected = [math.log(2) - sum(loss_d[i:i + 5]) / 5 / 2 for i in (0, 5)]
    assert [step for step, _ in scalars["train/divergence"]] == [5, 10]
    assert [value for _, value in scalars["train/divergence"]] == pytest.approx(expected, rel=1e-5)
    assert [value for _, value in scalars["hp_metric"]] == pytest.approx(expected, rel=1e-5)  # metrics off


@pytest.mark.parametrize("model", list(VARIANT_SCALARS))
def test_every_variant_trains_on_mnist5k_and_writes_its_run_dir(tmp_path, model):
    run_dir = tmp_path / "run"
    run_cli(f"model={model}", "data=mnist5k", *COMMON, f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert (run_dir / ".hydra" / "config.yaml").is_file()
    scalars = read_scalars(run_dir / "tensorboard")
    expected = {"train/loss_d", "train/loss_g", "train/D_x", "train/D_G_z", "train/divergence", "hp_metric",
                "val/fid", "val/kid", "val/fid_best", "val/eval_seconds", "val/class_coverage", "val/is",
                "val/precision", "val/recall", "val/density", "val/coverage"} | VARIANT_SCALARS[model]
    assert expected <= set(scalars), set(scalars)
    # FID/KID after the (first and last) epoch, at the generator step; the run's hp_metric is the best FID
    fid_step, fid = scalars["val/fid"][-1]
    assert fid_step == 10 // N_CRITIC[model] and fid > 0 and scalars["val/kid"][-1][1] != 0
    assert scalars["hp_metric"][-1][1] == pytest.approx(scalars["val/fid_best"][-1][1])
    assert 1 <= scalars["val/class_coverage"][-1][1] <= 10 and 1 <= scalars["val/is"][-1][1] <= 10
    assert all(0 <= scalars[f"val/{name}"][-1][1] <= 1 for name in ("precision", "recall", "coverage"))
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    g_steps = 10 // N_CRITIC[model]
    # one point per generator step, with the generator step as x-axis
    assert [step for step, _ in scalars["train/loss_g"]] == list(range(1, g_steps + 1))
    if model in ("gan", "dcgan"):  # probabilities for BCE-type losses
        assert all(0 < v < 1 for _, v in scalars["train/D_x"] + scalars["train/D_G_z"])
    else:  # raw critic scores; the estimate is their difference
        for (_, w), (_, dx), (_, dgz) in zip(scalars["train/wasserstein"], scalars["train/D_x"], scalars["train/D_G_z"]):
            assert w == pytest.approx(dx - dgz, abs=1e-5)
    assert scalars["__images__"]["samples/fixed_noise"] == [g_steps]

    for name in ("epoch_0001.png", "final.png"):
        with Image.open(run_dir / "samples" / name) as grid:
            grid.load()
            assert grid.size == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)  # 8x8 grid of 28x28 with 2px padding
            assert grid.mode == "L"  # grey digits, a grey PNG

    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert len(ckpt["optimizer_states"]) == 2
    assert ckpt["state_dict"]["_extra_state"] == {"critic_steps": 10, "generator_steps": g_steps}
    assert ckpt["state_dict"]["fixed_noise"].shape == (64, 100)
    assert any(k.startswith("generator.") for k in ckpt["state_dict"])
    assert any(k.startswith("discriminator.") for k in ckpt["state_dict"])


def test_mnist_through_torchvision_on_generated_idx_files(tmp_path):
    write_mnist_idx(tmp_path / "data", n_train=128)
    run_dir = tmp_path / "run"
    run_cli("model=wgan_gp", "data=mnist", f"data.root={tmp_path / 'data'}", "data.batch_size=16", *COMMON,
            f"hydra.run.dir={run_dir}", cwd=tmp_path)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["state_dict"]["_extra_state"]["critic_steps"] == 128 // 16  # the epoch is the whole IDX file


def test_net_is_chosen_independently_of_the_variant(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("model=wgan_gp", "net=mlp", "net.g_hidden=[64]", *COMMON, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["net"]["name"] == "mlp"
    assert ckpt["state_dict"]["generator.net.0.weight"].shape == (64, 100)


def test_missing_mnist_is_one_clear_sentence(tmp_path):
    proc = run_cli("data=mnist", f"data.root={tmp_path / 'empty'}", *COMMON, f"hydra.run.dir={tmp_path / 'r'}",
                   cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"MNIST is not in data.root={tmp_path / 'empty'}" in proc.stderr
    assert "data=mnist5k" in proc.stderr


@pytest.mark.parametrize("override, message", [
    ("model=stylegan9", "Unknown model 'stylegan9' in model=stylegan9: use one of dcgan, feature_matching, gan, quickstart, r3gan, rpgan"),
    ("data=imagenet", "Unknown data 'imagenet' in data=imagenet: use one of celeba, cifar10, folder, mnist, mnist5k"),
    ("model.optimizer=sgd", "Unknown model.optimizer='sgd'"),
])
def test_bad_names_are_refused_clearly(tmp_path, override, message):
    proc = run_cli(override, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1  # one sentence, nothing of Hydra's search-path dump
    assert message in proc.stderr and not (tmp_path / "r").exists()
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_resumed_run_continues_where_it_stopped(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    run_cli("model=wgan_gp", "net=mlp", *COMMON, f"hydra.run.dir={first}", cwd=tmp_path)
    resume = ["trainer.max_epochs=2" if o == "trainer.max_epochs=1" else o for o in COMMON]
    run_cli("model=wgan_gp", "net=mlp", *resume, f"ckpt_path={first / 'checkpoints' / 'last.ckpt'}",
            f"hydra.run.dir={second}", cwd=tmp_path)
    before = torch.load(first / "checkpoints" / "last.ckpt", weights_only=True)
    after = torch.load(second / "checkpoints" / "last.ckpt", weights_only=True)
    assert after["state_dict"]["_extra_state"] == {"critic_steps": 20, "generator_steps": 4}
    assert after["epoch"] == before["epoch"] + 1
    # both optimizers carried on: Adam's step count continued from the first run
    steps = lambda ckpt, i: {int(s["step"]) for s in ckpt["optimizer_states"][i]["state"].values()}  # noqa: E731
    assert (steps(before, 0), steps(before, 1)) == ({2}, {10})
    assert (steps(after, 0), steps(after, 1)) == ({4}, {20})
    # the TensorBoard curves of the second run continue the generator-step axis
    assert [s for s, _ in read_scalars(second / "tensorboard")["train/loss_g"]] == [3, 4]


def test_the_progress_bar_counts_epochs_from_one_as_the_grids_and_messages_do(tmp_path):
    proc = run_cli("model=gan", "trainer.max_epochs=2", "trainer.limit_train_batches=3", "callbacks.metrics.feature=null",
                   "trainer.enable_progress_bar=true", "hydra.run.dir=run", cwd=tmp_path)
    assert "Epoch 1/2" in proc.stdout and "Epoch 2/2" in proc.stdout and "Epoch 0" not in proc.stdout  # (tqdm: stdout)
    assert {"epoch_0001.png", "epoch_0002.png"} <= {p.name for p in (tmp_path / "run" / "samples").iterdir()}


@pytest.mark.slow  # a real process: Lightning's logger holds the stderr it found at import
def test_a_profiler_asked_for_reports_the_callbacks_hooks(tmp_path):
    # without one the run's profiler is a no-op (run/no_profiler.py), as Lightning enters it ~100 times a G step
    proc = run_cli("model=gan", "trainer.max_epochs=1", "trainer.limit_train_batches=3", "callbacks.metrics.feature=null",
                   "trainer.profiler=simple", "hydra.run.dir=run", cwd=tmp_path, process=True)
    assert "FIT Profiler Report" in proc.stderr and "[Callback]RunCheckpoint.on_train_epoch_end" in proc.stderr


@pytest.mark.slow  # a real process: the in-process runner silences warnings
def test_epochs_shorter_than_the_logging_interval_still_log_and_are_not_warned_about(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    proc = subprocess.run([sys.executable, "-m", "gan_lightning", "model=gan", "trainer.max_epochs=4",
                           "trainer.limit_train_batches=3", "callbacks.metrics.feature=null",
                           "trainer.enable_progress_bar=false", "hydra.run.dir=run"],  # 12 G steps, every 10th logs
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [step for step, _ in read_scalars(tmp_path / "run" / "tensorboard")["train/loss_g"]] == [10]
    assert "logging interval" not in proc.stdout + proc.stderr  # Lightning: "...set a lower value"


def test_a_missing_checkpoint_to_resume_is_named(tmp_path):
    proc = run_cli("ckpt_path=nowhere/last.ckpt", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "ckpt_path=nowhere/last.ckpt does not exist" in proc.stderr


def test_no_callbacks_and_no_logger_write_only_the_config(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("logger=none", "callbacks=none", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
            "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    written = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    assert written == [".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml", "train.log"]
