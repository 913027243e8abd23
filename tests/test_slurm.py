"""SLURM time limits and preemption, proved on one machine with a fake SLURM (helpers/fake_slurm.py):
a job signalled at a chosen step saves, requeues itself, and the same script run again
continues the same run, in the same directory, bit for bit, with its loggers going on."""

import csv
import shlex
import signal
import subprocess
import sys

import pytest
import torch
from fake_slurm import FakeSlurm

from conftest import assert_same_training_state, read_scalars, run_cli

TINY = ("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "data.batch_size=16", "trainer.limit_train_batches=20",
        "callbacks.metrics.feature=null", "trainer.log_every_n_steps=1", "trainer.max_epochs=3",
        "logger=[tensorboard,csv]")
STEPS = 60


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


@pytest.mark.slow  # real processes, real signals, requeues
def test_a_job_requeued_at_its_time_limit_and_after_a_preemption_continues_its_run_bit_for_bit(tmp_path, reference):
    slurm = FakeSlurm(tmp_path / "slurm")
    command = (*TINY, "+callbacks.limit._target_=faults.SignalAt", "+callbacks.limit.step=25",  # the time limit's warning
               f"+callbacks.limit.signum={int(signal.SIGUSR1)}", "+callbacks.preempt._target_=faults.SignalAt",
               "+callbacks.preempt.step=45", f"+callbacks.preempt.signum={int(signal.SIGTERM)}")  # a preemption
    slurm.submit(*job_lines(tmp_path, *command))
    assert slurm.wait(0) == 128 + signal.SIGUSR1, slurm.output()
    runs = list((tmp_path / "outputs" / "runs").glob("*/*"))
    assert len(runs) == 1 and runs[0].name.startswith("slurm-4242-"), runs  # named after the job, not the clock
    run_dir = runs[0]
    log = (run_dir / "train.log").read_text()
    assert "Stopped by SIGUSR1 (SLURM's time-limit warning) at generator step 25" in log
    assert "Requeued SLURM job 4242 (scontrol requeue 4242): the same script continues this run" in log
    assert slurm.requeues() == ["requeue 4242"]  # the run requeued its own job; the fake SLURM started it again

    assert slurm.wait(1) == 128 + signal.SIGTERM, slurm.output()  # the requeued job, preempted at step 45
    log = (run_dir / "train.log").read_text()
    assert "SLURM job 4242, restart 1: continuing this run." in log and "at generator step 25." in log
    assert "Stopped by SIGTERM at generator step 45" in log and "If SLURM requeues the job (a preemption)" in log
    assert slurm.requeues() == ["requeue 4242"]  # a preemption is requeued by SLURM, not by the run
    assert load(run_dir)["state_dict"]["_extra_state"]["generator_steps"] == 45
    slurm.submit(*job_lines(tmp_path, *command), restart=2)  # SLURM requeues the preempted job: the same script
    assert slurm.wait(2) == 0, slurm.output()

    assert list((tmp_path / "outputs" / "runs").glob("*/*")) == [run_dir]  # one directory for the three starts
    assert not list(run_dir.rglob("hpc_ckpt_*"))  # one kind of checkpoint: Lightning's SLURM handler is off
    assert "SLURM job 4242, restart 2: continuing this run." in (run_dir / "train.log").read_text()
    assert "Traceback" not in slurm.output()
    assert_same_training_state(load(reference), load(run_dir))
    # the loggers continue: one TensorBoard point and one CSV row per generator step, none twice
    assert [s for s, _ in read_scalars(run_dir / "tensorboard")["train/loss_g"]] == list(range(1, STEPS + 1))
    with open(run_dir / "csv" / "metrics.csv") as table:
        steps = [int(row["step"]) for row in csv.DictReader(table) if row["train/loss_g"]]
    assert steps == list(range(1, STEPS + 1))


@pytest.mark.slow  # two real processes, one per SLURM task, talking over gloo
def test_slurm_tasks_get_their_ranks_and_share_one_run_directory(tmp_path):
    slurm = FakeSlurm(tmp_path / "slurm", job_id="777")
    probes = tmp_path / "probes"
    command = [sys.executable, "-m", "gan_lightning", *TINY[:5], "callbacks.metrics.feature=null",
               "trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.accelerator=cpu", "trainer.devices=2",
               "trainer.strategy=ddp", "trainer.enable_progress_bar=false", "+callbacks.probe._target_=ddp_probe.RankProbe",
               f"+callbacks.probe.dirpath={probes}"]
    env = {**slurm.env, "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NODELIST": "127.0.0.1"}
    tasks = [subprocess.Popen(command, cwd=tmp_path, env={**env, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outputs = [task.communicate(timeout=240) for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], outputs[0][1][-3000:] + outputs[1][1][-3000:]
    ranks = [torch.load(probes / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]  # SLURM_NTASKS, read by Lightning's SLURM environment
    for name, value in ranks[0]["params"].items():
        assert torch.equal(value, ranks[1]["params"][name]), name  # one model, kept in sync over gloo
    assert not torch.equal(ranks[0]["noise"], ranks[1]["noise"])  # each rank draws its own noise
    runs = list((tmp_path / "outputs" / "runs").glob("*/*"))
    assert len(runs) == 1 and runs[0].name.startswith("slurm-777-"), runs  # both tasks named the same folder


ODD_JOBS = {  # SLURM variables -> the sentence that refuses them
    "tasks per node": ({"SLURM_NTASKS_PER_NODE": "2"}, "This SLURM job runs 2 tasks per node (--ntasks-per-node=2) and "
                       "trainer.devices gives 1 process(es) per node: one task per device, so set trainer.devices=2"),
    "nodes": ({"SLURM_NNODES": "2"}, "This SLURM job has 2 node(s) (--nodes=2) and trainer.num_nodes=1: set "
              "trainer.num_nodes=2"),
    "tasks without tasks per node": ({"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": None, "SLURM_PROCID": "1"},
                                     "This SLURM job sets --ntasks=2 without --ntasks-per-node"),
    "a task count in words": ({"SLURM_NTASKS": "x"}, "This SLURM job's variables cannot be read (invalid literal"),
    "a job id that is a path": ({"SLURM_JOB_ID": "7/../../escape"}, "SLURM_JOB_ID='7/../../escape' is not a SLURM "
                                "job id (a number): run inside a SLURM job, or unset SLURM_JOB_ID"),
}


@pytest.mark.parametrize("case", list(ODD_JOBS))
def test_a_slurm_job_the_run_cannot_place_is_one_sentence_and_writes_nothing(tmp_path, monkeypatch, case):
    slurm = FakeSlurm(tmp_path / "slurm")
    for key, value in slurm.env.items():
        if key.startswith("SLURM_"):
            monkeypatch.setenv(key, value)
    variables, message = ODD_JOBS[case]
    for key, value in variables.items():
        monkeypatch.setenv(key, value) if value is not None else monkeypatch.delenv(key, raising=False)
    cwd = tmp_path / "work"
    cwd.mkdir()
    proc = run_cli(*TINY, cwd=cwd, check=False)  # the run folder named after the job (slurm-<job>-<hash>)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slurm", "work"] and [p.name for p in cwd.iterdir()] == ["data"]


def test_the_slurm_launchers_sizes_must_agree_with_the_trainer(tmp_path):
    proc = run_cli("-m", "hydra/launcher=slurm", "trainer.devices=4", "hydra.launcher.tasks_per_node=2", cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ("hydra.launcher.tasks_per_node=2 but trainer.devices=4: Lightning runs one process per device on each "
            "node, one SLURM task each") in proc.stderr
    proc = run_cli("-m", "hydra/launcher=slurm", "hydra.launcher.nodes=2", cwd=tmp_path, check=False)
    assert "hydra.launcher.nodes=2 but trainer.num_nodes=1" in proc.stderr
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "outputs").exists()


def test_a_requeued_job_with_its_own_run_directory_continues_it_in_place(tmp_path, reference, monkeypatch):
    """What a requeued submitit job (and a script with hydra.run.dir=...) does: the same command,
    run again with SLURM_RESTART_COUNT raised, continues the run in its folder."""
    command = (*TINY, "hydra.run.dir=run")
    stop = ("+callbacks.fault._target_=faults.SignalAt", "+callbacks.fault.step=15",
            f"+callbacks.fault.signum={int(signal.SIGTERM)}")
    slurm = FakeSlurm(tmp_path / "slurm")
    for key, value in slurm.env.items():
        if key.startswith("SLURM_"):
            monkeypatch.setenv(key, value)
    assert run_cli(*command, *stop, cwd=tmp_path, check=False).returncode == 128 + signal.SIGTERM
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    proc = run_cli(*command, *stop, cwd=tmp_path)
    assert "SLURM job 4242, restart 1: continuing this run." in proc.stderr + proc.stdout
    assert_same_training_state(load(reference), load(tmp_path / "run"))
