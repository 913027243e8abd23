"""Never lose a run, checked while the run runs, through `python -m gan_lightning`.

One uninterrupted reference run (3 epochs of 100 batches, 300 generator steps) is the yardstick:
a run stopped by SIGTERM or SIGINT, by its epoch budget or by its generator-step budget
mid-epoch, and then resumed by run directory, must end with exactly its weights, optimizer
states and counters, and one TensorBoard point per generator step.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from conftest import MLP, RandomImages, assert_same_training_state, fit, read_scalars, run_cli
from gan_lightning.callbacks import RunCheckpoint
from gan_lightning.errors import Diverged
from gan_lightning.models import GAN

TINY = ("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "data.batch_size=16", "trainer.limit_train_batches=100",
        "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1")
STEPS = 300


def start_cli(*overrides: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.Popen([sys.executable, "-m", "gan_lightning", *overrides], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until `path` exists, asserting that the run is still running when it appears."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path.name} appeared:\n{proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.02)


def load(run_dir: Path, name: str = "last") -> dict:
    return torch.load(run_dir / "checkpoints" / f"{name}.ckpt", weights_only=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("reference")
    proc = run_cli(*TINY, "trainer.max_epochs=3", "hydra.run.dir=run", cwd=cwd)
    return cwd / "run", proc


def test_the_reference_run_has_one_point_per_step(reference):
    run_dir, proc = reference
    assert load(run_dir)["state_dict"]["_extra_state"]["generator_steps"] == STEPS
    scalars = read_scalars(run_dir / "tensorboard")
    assert [s for s, _ in scalars["train/loss_g"]] == list(range(1, STEPS + 1))
    assert -1.0 not in [v for _, v in scalars["hp_metric"]]  # no placeholder point
    assert not (run_dir / ".lock").exists()  # a finished run releases its directory


@pytest.mark.slow  # a real process, a real signal
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_the_step_and_resume_by_run_directory_matches_the_uninterrupted_run(tmp_path, reference, signum):
    run_dir = tmp_path / "run"
    proc = start_cli(*TINY, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    wait_for(run_dir / "checkpoints" / "last.ckpt", proc)  # written after epoch 1, while the run runs
    assert load(run_dir)["state_dict"]["_extra_state"]["generator_steps"] == 100
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum
    # no library noise a user cannot act on (start_cli, unlike run_cli, leaves warnings on)
    for noise in ("could not find the monitored key", "LeafSpec", "litlogger", "weights_only"):
        assert noise not in stdout + stderr
    assert "Traceback" not in stderr
    stopped_at = load(run_dir)["state_dict"]["_extra_state"]["generator_steps"]
    assert 100 <= stopped_at < STEPS
    assert f"at generator step {stopped_at}" in stderr and f"resume={run_dir}" in stderr
    assert f"resume={run_dir}" in (run_dir / "train.log").read_text()

    run_cli(f"resume={run_dir}", cwd=tmp_path)
    assert_same_training_state(load(reference[0]), load(run_dir))
    # the same TensorBoard run continues: one point per generator step, no gap, no repeat
    assert [s for s, _ in read_scalars(run_dir / "tensorboard")["train/loss_g"]] == list(range(1, STEPS + 1))


@pytest.mark.parametrize("first_budget, resumed_budget", [
    ("trainer.max_epochs=1", "trainer.max_epochs=3"),          # from an epoch boundary
    ("max_generator_steps=150", "max_generator_steps=300"),    # mid-epoch (epoch 2 of 3)
])
def test_a_larger_budget_continues_bit_exactly(tmp_path, reference, first_budget, resumed_budget):
    run_dir = tmp_path / "run"
    run_cli(*TINY, "trainer.max_epochs=3", first_budget, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert load(run_dir)["state_dict"]["_extra_state"]["generator_steps"] in (100, 150)
    proc = run_cli(f"resume={run_dir}", resumed_budget, cwd=tmp_path)
    assert "dataloader is not resumable" not in proc.stderr
    assert_same_training_state(load(reference[0]), load(run_dir))


def test_a_finished_run_says_so_and_names_the_key_to_raise(reference, tmp_path):
    proc = run_cli(f"resume={reference[0]}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is finished" in proc.stderr and "trainer.max_epochs=6" in proc.stderr


def test_resume_refuses_changes_other_than_the_budget(reference, tmp_path):
    proc = run_cli(f"resume={reference[0]}", "model.lr=0.1", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "would not continue the same run: model.lr: 0.0002 -> 0.1" in proc.stderr
    assert "trainer.max_epochs" in proc.stderr


@pytest.mark.slow  # the first run is a real process holding the lock
def test_a_second_run_into_a_running_runs_directory_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    # still running when the second run starts, on any machine (killed below)
    first = start_cli(*TINY, "trainer.max_epochs=100000", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    try:
        wait_for(run_dir / "checkpoints" / "last.ckpt", first)
        config = (run_dir / ".hydra" / "config.yaml").read_bytes()
        log = (run_dir / "train.log").read_bytes()
        second = run_cli(*TINY, "seed=7", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert f"is still running in {run_dir}" in second.stderr
        assert (run_dir / ".hydra" / "config.yaml").read_bytes() == config  # nothing of the first run touched
        assert (run_dir / "train.log").read_bytes().startswith(log)
        resumed = run_cli(f"resume={run_dir}", cwd=tmp_path, check=False)
        assert resumed.returncode == 2 and "is still running" in resumed.stderr
    finally:
        first.kill()
        first.communicate()


def test_last_ckpt_is_there_during_the_next_epoch_and_on_the_step_interval(tmp_path):
    """Looked at while fit() runs: after epoch 1 (in epoch 2 of 2) and right after each interval step.
    A worker thread writes the file while training goes on: it must land within seconds."""
    seen = {}

    def last_ckpt(step: int):
        """What last.ckpt holds once it holds `step` or later (10 s at most: then what it holds)."""
        deadline = time.monotonic() + 10
        while True:
            try:
                state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
                held = state["state_dict"]["_extra_state"]["generator_steps"], state["callbacks"]["RunCheckpoint"][
                    "epoch_end"]
            except FileNotFoundError:
                held = None
            if (held is not None and held[0] >= step) or time.monotonic() > deadline:
                return held
            time.sleep(0.01)

    class Probe(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                seen["epoch 2 starts"] = last_ckpt(20)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if pl_module.generator_steps in (7, 8, 27):
                seen[pl_module.generator_steps] = last_ckpt({7: 7, 8: 7, 27: 27}[pl_module.generator_steps])

    model = GAN(image_shape=[1, 28, 28], net=MLP, latent_dim=8)
    checkpoint = RunCheckpoint(str(tmp_path / "checkpoints"), every_n_minutes=None, every_n_generator_steps=7)
    fit(model, batches=20, max_epochs=2, default_root_dir=str(tmp_path), enable_checkpointing=True,
        callbacks=[Probe(), checkpoint], datamodule=RandomImages(n=160))
    assert seen == {7: (7, False), 8: (7, False), "epoch 2 starts": (20, True), 27: (27, False)}
    assert not list((tmp_path / "checkpoints").glob(".*partial"))  # no temporary file left behind


def test_training_goes_on_while_a_checkpoint_is_written_and_the_run_ends_with_it_on_disk(tmp_path, monkeypatch):
    """A slow disk (each write takes half a second) does not stop the loop; the run returns once
    its last checkpoint is complete."""
    from helpers.probes import StepTimes

    from gan_lightning.callbacks import checkpoint

    real_write, writes = checkpoint.write_checkpoint, []

    def slow_write(state, path):
        start = time.monotonic()
        time.sleep(0.5)
        real_write(state, path)
        writes.append((start, time.monotonic(), state["state_dict"]["_extra_state"]["generator_steps"]))

    monkeypatch.setattr(checkpoint, "write_checkpoint", slow_write)
    StepTimes.seen = []
    run_dir = tmp_path / "run"
    run_cli("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "data.batch_size=16", "trainer.max_epochs=2",
            "trainer.limit_train_batches=30", "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false",
            "+callbacks.probe._target_=helpers.probes.StepTimes", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    (start, end, step), _ = writes  # epoch 1's last.ckpt, then the run's final one
    trained_meanwhile = [s for t, s in StepTimes.seen if start < t < end]
    assert step == 30 and trained_meanwhile and min(trained_meanwhile) == 31
    held = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert held["state_dict"]["_extra_state"]["generator_steps"] == 60
    assert not list((run_dir / "checkpoints").glob(".*partial"))


class NaNAfter(torch.nn.Module):
    """A critic whose scores turn NaN from its `after`-th call on (a diverging D)."""

    def __init__(self, critic: torch.nn.Module, after: int):
        super().__init__()
        self.critic, self.after, self.calls = critic, after, 0

    def forward(self, x):
        self.calls += 1
        scores = self.critic(x)
        return scores * float("nan") if self.calls >= self.after else scores


def test_a_nan_in_d_stops_the_run_at_its_step_and_keeps_the_good_checkpoint(tmp_path):
    model = GAN(image_shape=[1, 28, 28], net=MLP, latent_dim=8)
    model.discriminator = NaNAfter(model.discriminator, after=3 * 12 + 1)  # 3 calls per step: step 13 on
    checkpoint = RunCheckpoint(str(tmp_path / "checkpoints"), every_n_minutes=None, every_n_generator_steps=5)
    with pytest.raises(Diverged) as stopped:
        fit(model, batches=40, max_epochs=1, default_root_dir=str(tmp_path), enable_checkpointing=True,
            callbacks=[checkpoint], log_every_n_steps=10, datamodule=RandomImages(n=320))
    message = str(stopped.value)
    assert "diverged: D(x), D(G(z)), loss_d, loss_g became NaN or infinite at generator step 13;" in message
    assert f"{tmp_path / 'checkpoints' / 'last.ckpt'} still holds generator step 10" in message
    assert stopped.value.exit_code == 3
    kept = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert kept["state_dict"]["_extra_state"]["generator_steps"] == 10
    assert all(torch.isfinite(v).all() for k, v in kept["state_dict"].items() if k != "_extra_state")
    assert model.generator_steps <= 20  # stopped at the next check (the logging interval), not the epoch's end


def test_a_diverging_cli_run_exits_with_the_sentence(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*TINY, "trainer.max_epochs=2", "+callbacks.fault._target_=faults.PoisonAt",
                   "+callbacks.fault.step=3", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "Training diverged:" in proc.stderr and "at generator step" in proc.stderr
    assert "Training diverged:" in (run_dir / "train.log").read_text()
