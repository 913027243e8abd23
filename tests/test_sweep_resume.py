"""An interrupted sweep finishes with one command, `python -m gan_lightning resume=<sweep dir>`:
the finished jobs are skipped, the stopped one continues in its folder, the ones that never
started run; then `compare` shows all of them."""

import signal

import pytest

from conftest import run_cli

SWEEP = ("-m", "model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "trainer.max_epochs=2",
         "trainer.limit_train_batches=5", "callbacks.metrics.feature=null", "model.lr=1e-3,2e-3,3e-3,4e-3",
         "hydra.sweep.dir=sweep")


def job_logs(sweep_dir):
    return {int(path.parent.name.split("_")[0]): path.read_text() for path in sweep_dir.glob("*/train.log")}


def test_a_sweep_stopped_after_two_of_four_jobs_runs_exactly_two_more(tmp_path):
    stop = ("+callbacks.fault._target_=faults.SignalInJob", "+callbacks.fault.job=2", "+callbacks.fault.step=7",
            f"+callbacks.fault.signum={int(signal.SIGTERM)}")
    proc = run_cli(*SWEEP, *stop, cwd=tmp_path, check=False)
    sweep_dir = tmp_path / "sweep"
    assert proc.returncode == 128 + signal.SIGTERM
    assert f"python -m gan_lightning resume={sweep_dir}" in proc.stderr  # the stop message says how to finish
    before = job_logs(sweep_dir)
    assert sorted(before) == [0, 1, 2] and sum("finished: 10 generator steps" in log for log in before.values()) == 2

    proc = run_cli("-m", f"resume={sweep_dir}", cwd=tmp_path)  # -m beside it: a sweep is what it runs anyway
    after = job_logs(sweep_dir)
    assert sorted(after) == [0, 1, 2, 3]
    trained = sorted(job for job, log in after.items() if log.count("finished: 10 generator steps") > before.get(job, "").count(
        "finished: 10 generator steps"))
    assert trained == [2, 3]  # exactly the two that had not finished
    assert "Resuming from" in after[2] and "at generator step 7" in after[2]
    assert all("had finished its budget before: nothing left to train, skipped" in after[job] for job in (0, 1))

    table = run_cli(str(sweep_dir), cwd=tmp_path, module="gan_lightning.compare").stdout
    assert table.count(" | 1 finished | ") == 4, table  # one row per learning rate, each finished


def test_resuming_a_sweep_takes_nothing_beside_it_and_no_optuna(tmp_path):
    run_cli(*SWEEP[:-2], "model.lr=1e-3", "hydra.sweep.dir=sweep", "trainer.max_epochs=1", cwd=tmp_path)
    proc = run_cli("resume=sweep", "model.lr=0.1", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "runs that sweep's own command again and takes nothing beside it (model.lr=0.1)" in proc.stderr


@pytest.mark.parametrize("made", [True, False])
def test_resume_of_a_folder_that_is_neither_a_run_nor_a_sweep_is_one_sentence(tmp_path, made):
    folder = tmp_path / "folder"
    if made:
        folder.mkdir()
    proc = run_cli(f"resume={folder}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ("is not a run directory" if made else "does not exist") in proc.stderr
    assert "a run or a sweep wrote" in proc.stderr


@pytest.mark.slow  # submitit's local executor: each job a process of its own
def test_a_submitit_sweep_whose_job_stopped_says_so_and_finishes_with_resume(tmp_path):
    stop = ("+callbacks.fault._target_=faults.SignalInJob", "+callbacks.fault.job=1", "+callbacks.fault.step=7")
    sweep = ("-m", "hydra/launcher=submitit_local", *SWEEP[1:7], "model.lr=1e-3,2e-3", "hydra.sweep.dir=sweep")
    proc = run_cli(*sweep, *stop, cwd=tmp_path, check=False)  # the sweep here; its jobs, processes
    sweep_dir = tmp_path / "sweep"
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]  # not submitit's error
    assert (f"1 job(s) of the sweep stopped before their budget (1; each train.log says why). Finish the sweep "
            f"(stopped jobs continue, finished ones are skipped): python -m gan_lightning resume={sweep_dir}") in proc.stderr
    run_cli(f"resume={sweep_dir}", cwd=tmp_path)
    logs = job_logs(sweep_dir)
    assert "nothing left to train, skipped" in logs[0] and logs[0].count("finished: 10 generator steps") == 1
    assert "Resuming from" in logs[1] and logs[1].count("finished: 10 generator steps") == 1


def test_a_job_folder_in_use_refuses_a_second_writer(tmp_path):
    """A sweep's job holds its folder's lock as a single run does: a resume of that job, or of its
    sweep, while it runs is refused instead of training into the same files."""
    import fcntl

    run_cli(*SWEEP[:-2], "model.lr=1e-3,2e-3", "hydra.sweep.dir=sweep", "trainer.max_epochs=1", cwd=tmp_path)
    job = min((tmp_path / "sweep").glob("1_*"))
    with open(job / ".lock", "a+") as held:  # as the job's process holds it while it trains
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for target in (job, tmp_path / "sweep"):
            budget = ["trainer.max_epochs=2"] if target == job else []  # the job would train on; the sweep too
            proc = run_cli(f"resume={target}", *budget, cwd=tmp_path, check=False)
            assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
            assert f"is still running in {job}" in proc.stderr


def test_an_optuna_folder_or_a_damaged_sweep_is_refused_with_what_still_works(tmp_path):
    run_cli(*SWEEP[:-2], "model.lr=1e-3", "hydra.sweep.dir=sweep", "trainer.max_epochs=1", cwd=tmp_path)
    record = tmp_path / "sweep" / "multirun.yaml"
    record.write_text("hydra: [unclosed\n")
    proc = run_cli("resume=sweep", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "multirun.yaml cannot be read" in proc.stderr
    assert "continue each job's run with resume=<its folder>" in proc.stderr
    record.unlink()  # as an Optuna search leaves its folder
    proc = run_cli("resume=sweep", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "no multirun.yaml, as an Optuna search leaves them" in proc.stderr


def test_a_sweep_with_a_damaged_job_checkpoint_is_refused_before_anything_is_written(tmp_path):
    run_cli(*SWEEP[:-2], "model.lr=1e-3,2e-3", "hydra.sweep.dir=sweep", "trainer.max_epochs=1", cwd=tmp_path)
    damaged = sorted((tmp_path / "sweep").glob("1_*/checkpoints/last.ckpt"))[0]
    damaged.write_bytes(damaged.read_bytes()[:2000])  # cut short, as a full disk leaves it
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "sweep").rglob("*") if p.is_file()}
    proc = run_cli("resume=sweep", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"resume={damaged} is not a gan_lightning checkpoint" in proc.stderr
    assert "move its folder out of the sweep folder to train it again, or resume the other jobs one by one" in proc.stderr
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "sweep").rglob("*") if p.is_file()}
    assert after == before  # not the skipped job's log, not the damaged job's, not multirun.yaml
