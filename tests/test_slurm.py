"""SLURM time limits and preemption, proved on one machine with a fake SLURM (helpers/fake_slurm.py):
a job signalled at a chosen step saves, requeues itself, and the same script run again
continues the same run, in the same directory, bit for bit, with its loggers going on."""

import csv
import shlex
import signal
import sys

import pytest
import torch
from fake_slurm import FakeSlurm

from conftest import assert_same_training_state, read_scalars, run_cli

TINY = ("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "data.batch_size=16", "trainer.limit_train_batches=40",
        "callbacks.metrics.feature=null", "trainer.log_every_n_steps=1", "trainer.max_epochs=3",
        "logger=[tensorboard,csv]")
STEPS = 120


def load(run_dir, name="last"):
    return torch.load(run_dir / "checkpoints" / f"{name}.ckpt", weights_only=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same command, never interrupted, outside SLURM."""
    cwd = tmp_path_factory.mktemp("reference")
    run_cli(*TINY, "hydra.run.dir=run", cwd=cwd)
    return cwd / "run"


def job_lines(cwd, *overrides):
    return [f"cd {shlex.quote(str(cwd))}",
            f"exec {sys.executable} -m gan_lightning {' '.join(shlex.quote(o) for o in overrides)}"]


@pytest.mark.slow  # real processes, a real signal, a requeue
@pytest.mark.parametrize("signum, step", [(signal.SIGUSR1, 50), (signal.SIGTERM, 70)])
def test_a_requeued_job_continues_its_run_bit_for_bit(tmp_path, reference, signum, step):
    slurm = FakeSlurm(tmp_path / "slurm")
    command = (*TINY, "+callbacks.fault._target_=faults.SignalAt", f"+callbacks.fault.step={step}",
               f"+callbacks.fault.signum={int(signum)}")
    slurm.submit(*job_lines(tmp_path, *command))
    first = slurm.wait(0)
    assert first == 128 + signum, slurm.output()
    runs = list((tmp_path / "outputs" / "runs").glob("*/*"))
    assert len(runs) == 1 and runs[0].name.startswith("slurm-4242-"), runs  # named after the job, not the clock
    run_dir = runs[0]
    log = (run_dir / "train.log").read_text()
    assert f"Stopped by {'SIGUSR1' if signum == signal.SIGUSR1 else 'SIGTERM'}" in log
    assert f"at generator step {step}" in log and "Traceback" not in slurm.output()
    assert load(run_dir)["state_dict"]["_extra_state"]["generator_steps"] == step
    if signum == signal.SIGTERM:  # a preemption: SLURM requeues the job itself; here the test plays SLURM
        assert slurm.requeues() == [] and "If SLURM requeues the job (a preemption)" in log
        slurm.submit(*job_lines(tmp_path, *command), restart=1)
    else:  # a time limit: the run requeues its own job
        assert "SIGUSR1 (SLURM's time-limit warning)" in log and "Requeued SLURM job 4242" in log
        assert slurm.requeues() == ["requeue 4242"]
    assert slurm.wait(1) == 0, slurm.output()

    assert list((tmp_path / "outputs" / "runs").glob("*/*")) == [run_dir]  # the same directory, no second run
    assert not list(run_dir.rglob("hpc_ckpt_*"))  # one kind of checkpoint: Lightning's SLURM handler is off
    log = (run_dir / "train.log").read_text()
    assert "SLURM job 4242, restart 1: continuing this run." in log and "Resuming from" in log
    assert_same_training_state(load(reference), load(run_dir))
    # the loggers continue: one TensorBoard point and one CSV row per generator step, no repeat
    assert [s for s, _ in read_scalars(run_dir / "tensorboard")["train/loss_g"]] == list(range(1, STEPS + 1))
    with open(run_dir / "csv" / "metrics.csv") as table:
        steps = [int(row["step"]) for row in csv.DictReader(table) if row["train/loss_g"]]
    assert steps == list(range(1, STEPS + 1))
