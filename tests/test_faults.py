"""Never lose a run, part two, through the real entry point with the real files: a refused
command writes nothing, resume is judged against what the checkpoint trained, sweep jobs and odd
paths resume with the command the run printed, a full disk and Ctrl-C at any moment end in one
line, and a crash keeps its record."""

import errno
import hashlib
import shlex
import signal
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from gan_lightning.errors import ConfigError

TINY = ("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "data.batch_size=16", "trainer.limit_train_batches=8",
        "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1")


def files(run_dir: Path) -> dict[str, str]:
    """Every file of a run directory and its content's digest."""
    return {str(p.relative_to(run_dir)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


def steps(run_dir: Path) -> int:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return checkpoint["state_dict"]["_extra_state"]["generator_steps"]


def printed_command(stderr: str) -> list[str]:
    """The arguments of the `python -m gan_lightning ...` command a message suggests, as a shell splits it."""
    line = next(line for line in stderr.splitlines() if "Resume with: python -m gan_lightning" in line)
    return shlex.split(line.split("Resume with: python -m gan_lightning", 1)[1])


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A run finished at 2 epochs (16 generator steps), as a pristine copy source."""
    cwd = tmp_path_factory.mktemp("finished")
    run_cli(*TINY, "trainer.max_epochs=2", "hydra.run.dir=run", cwd=cwd)
    return cwd / "run"


@pytest.fixture
def run_dir(finished, tmp_path) -> Path:
    """A copy of the finished run in this test's own directory (the copy is what a user would resume)."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


# ---- silent damage --------------------------------------------------------------------------


def test_a_refused_resume_writes_nothing_and_its_advice_works(run_dir, tmp_path):
    before = files(run_dir)
    for extra in (["max_generator_steps=20"], ["max_generator_steps=10"], ["model.lr=0.1"],
                  ["trainer.max_epochs=2", "model.n_critic=2"]):
        proc = run_cli(f"resume={run_dir}", *extra, cwd=tmp_path, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-1500:]
        assert files(run_dir) == before, extra  # byte for byte: config, overrides, train.log, events, checkpoints
    # the advice names a value that works, and then the run trains what it says
    proc = run_cli(f"resume={run_dir}", "max_generator_steps=10", cwd=tmp_path, check=False)
    advice = proc.stderr.split("e.g. ")[1].rstrip(".\n")
    assert advice == "trainer.max_epochs=4"
    run_cli(f"resume={run_dir}", advice, cwd=tmp_path)
    assert steps(run_dir) == 32  # 2 more epochs of 8 steps: the refused max_generator_steps was not kept


def test_advice_for_a_step_budget_is_above_what_was_trained(run_dir, tmp_path):
    run_cli(f"resume={run_dir}", "trainer.max_epochs=3", "max_generator_steps=20", cwd=tmp_path)
    assert steps(run_dir) == 20
    proc = run_cli(f"resume={run_dir}", "max_generator_steps=10", cwd=tmp_path, check=False)
    assert "raise it above 20, e.g. max_generator_steps=40." in proc.stderr
    run_cli(f"resume={run_dir}", "max_generator_steps=40", cwd=tmp_path)
    assert steps(run_dir) == 24  # then trainer.max_epochs=3 (kept from the accepted resume) ends it


def test_a_config_edited_by_hand_is_refused_naming_both_values(run_dir, tmp_path):
    overrides = run_dir / ".hydra" / "overrides.yaml"
    overrides.write_text(overrides.read_text() + "- model.lr=0.05\n")
    before = files(run_dir)
    proc = run_cli(f"resume={run_dir}", "trainer.max_epochs=3", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "model.lr: 0.0002 -> 0.05" in proc.stderr and "overrides.yaml" in proc.stderr
    assert files(run_dir) == before


def test_resume_accepts_what_does_not_change_the_run_and_names_what_would(run_dir, tmp_path):
    same = ("trainer.enable_progress_bar=false", "model.lr=2e-4", "trainer.log_every_n_steps=2",
            "callbacks.checkpoint.every_n_minutes=5", "callbacks.metrics.every_n_epochs=3",
            "callbacks.metrics.num_samples=100")
    run_cli(f"resume={run_dir}", "trainer.max_epochs=3", *same, "trainer.profiler=simple", cwd=tmp_path)
    assert steps(run_dir) == 24
    # the profiler the resume added (now in the run's overrides.yaml) may be switched off again, or undone
    run_cli(f"resume={run_dir}", "trainer.max_epochs=4", "trainer.profiler=null", cwd=tmp_path)
    assert steps(run_dir) == 32
    run_cli(f"resume={run_dir}", "trainer.max_epochs=5", "trainer.profiler=simple", cwd=tmp_path)
    run_cli(f"resume={run_dir}", "trainer.max_epochs=6", "~trainer.profiler", cwd=tmp_path)
    assert steps(run_dir) == 48
    assert "profiler" not in (run_dir / ".hydra" / "overrides.yaml").read_text()
    proc = run_cli(f"resume={run_dir}", "trainer.max_epochs=7", "data.batch_size=8", "model.beta1=0.9", cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2
    assert "data.batch_size: 16 -> 8" in proc.stderr and "model.beta1: 0.5 -> 0.9" in proc.stderr


def test_unknown_top_level_keys_are_refused_with_the_key_meant(tmp_path):
    proc = run_cli("+lr=1e-3", *TINY, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "did you mean model.lr=1e-3?" in proc.stderr
    assert not (tmp_path / "run").exists()


# ---- resume where users need it ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["sweep job", "odd path"])
def test_the_printed_resume_command_works_when_pasted(tmp_path, where):
    stop = ["+callbacks.fault._target_=faults.SignalAt", "+callbacks.fault.step=4"]
    if where == "sweep job":
        proc = run_cli("-m", *TINY, *stop, "trainer.max_epochs=2", "model.lr=1e-3,2e-3", "seed=1",
                       f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, check=False)
        job = next((tmp_path / "sweep").glob("0_*"))
        assert "model.lr=0.001" in job.name and "," in job.name
        # Ctrl-C in a sweep stops the sweep and says where each job stands
        assert "job 0 (" in proc.stderr and "none finished before it" in proc.stderr
        assert "1 never started" in proc.stderr
    else:
        job = tmp_path / "my run ü 数据, v=2"
        proc = run_cli(*TINY, *stop, "trainer.max_epochs=2", f"hydra.run.dir='{job}'", cwd=tmp_path, check=False)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert steps(job) == 4
    arguments = printed_command(proc.stderr)
    assert arguments == [f"resume={job}"]
    run_cli(*arguments, cwd=tmp_path)
    assert steps(job) == 16  # the same directory, trained to its budget
    assert len(list(job.parent.iterdir())) == 2  # no new run directory (sweep: multirun.yaml, job 0; else data/, the run)


# ---- faults ---------------------------------------------------------------------------------


def test_a_full_disk_is_one_sentence_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from gan_lightning.callbacks import checkpoint

    real_write = checkpoint.write_checkpoint
    calls = []

    def write_on_a_filling_disk(state, path):
        calls.append(path)
        if len(calls) < 2:
            return real_write(state, path)
        Path(path).write_bytes(b"half a checkpoint")  # what a write cut short leaves
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "write_checkpoint", write_on_a_filling_disk)
    run_dir = tmp_path / "run"
    proc = run_cli(*TINY, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    assert f"Could not write {run_dir / 'checkpoints' / 'last.ckpt'} (No space left on device)" in line
    assert "MB are free" in line and "holds generator step 8" in line
    assert steps(run_dir) == 8  # the previous last.ckpt, intact
    assert not list((run_dir / "checkpoints").glob(".*partial"))
    assert "Could not write" in (run_dir / "train.log").read_text()


def test_ctrl_c_before_training_starts_is_one_line_and_exit_130(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*TINY, "trainer.max_epochs=2", "+callbacks.fault._target_=faults.SignalAt",
                   "+callbacks.fault.step=0", "+callbacks.fault.hook=on_fit_start", f"hydra.run.dir={run_dir}",
                   cwd=tmp_path, check=False)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr and "graceful shutdown" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")] == [
        "gan_lightning: Stopped by SIGINT (Ctrl-C) before training started or after it ended: no training step "
        "was lost."]
    assert not run_dir.exists()  # nothing had trained: no run directory is left behind


def test_a_second_ctrl_c_during_the_save_stops_at_once_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import os

    from gan_lightning.callbacks import checkpoint

    real_write = checkpoint.write_checkpoint

    def write_interrupted_again(state, path):
        real_write(state, path)
        if state["state_dict"]["_extra_state"]["generator_steps"] == 11:  # the stop's save (11 is no epoch's end)
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, while the stop's save runs
            time.sleep(1)  # the rest of the write: the main thread takes the signal meanwhile

    monkeypatch.setattr(checkpoint, "write_checkpoint", write_interrupted_again)
    run_dir = tmp_path / "run"
    proc = run_cli(*TINY, "trainer.max_epochs=3", "+callbacks.fault._target_=faults.SignalAt",
                   "+callbacks.fault.step=11", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr and "graceful shutdown" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    assert line.startswith("gan_lightning: Stopped at once by a second SIGINT (Ctrl-C), without saving;")
    assert "holds generator step 8" in line and steps(run_dir) == 8
    assert not list((run_dir / "checkpoints").glob(".*partial"))


def test_a_crash_keeps_its_traceback_in_train_log(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*TINY, "trainer.max_epochs=2", "+callbacks.fault._target_=faults.CrashAt", "+callbacks.fault.step=3",
                   f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    log = (run_dir / "train.log").read_text()
    assert "Traceback" in log and "RuntimeError: a bug at generator step 3" in log


# ---- 16-bit images ------------------------------------------------------------------------------


def test_16_bit_32_bit_and_float_images_keep_their_gradients(tmp_path):
    import numpy as np
    from PIL import Image

    from gan_lightning.data.image_files import UnsupportedImage, load_image

    ramp = np.linspace(0, 1, 64 * 64).reshape(64, 64)
    images = {"16.png": Image.fromarray((ramp * 65535).astype(np.uint16)),
              "32.tif": Image.fromarray((ramp * (2**31 - 1)).astype(np.int32)),
              "float.tif": Image.fromarray(ramp.astype(np.float32))}
    for name, image in images.items():
        image.save(tmp_path / name)
        pixels = load_image(tmp_path / name, 64, 1).numpy()
        assert 0 <= pixels.min() <= 1 and pixels.max() >= 254, name
        assert len(np.unique(pixels)) > 200 and (pixels == 255).mean() < 0.01, name  # a gradient, not white
        rgb = load_image(tmp_path / name, 32, 3).numpy()
        assert rgb.shape == (3, 32, 32) and (rgb[0] == rgb[1]).all()
    Image.fromarray((ramp * 1000 - 500).astype(np.float32)).save(tmp_path / "odd.tif")
    with pytest.raises(UnsupportedImage, match="no known scale"):
        load_image(tmp_path / "odd.tif", 32, 1)


@pytest.mark.slow  # a real process, Ctrl-C while it loads its libraries and while it sets up
@pytest.mark.parametrize("after", [0.5, 6.0])
def test_ctrl_c_at_start_up_is_one_line_and_exit_130(tmp_path, after):
    import os
    import subprocess
    import sys
    import time

    # A budget no machine finishes before the signal: on a fast one, 50 epochs ended within 6 s
    proc = subprocess.Popen([sys.executable, "-m", "gan_lightning", *TINY, "trainer.max_epochs=100000",
                             f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env={**os.environ, "HYDRA_FULL_ERROR": "0"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # as a terminal starts it: a test runner in the background may ignore SIGINT
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr and "graceful shutdown" not in stderr, stderr[-2000:]
    assert len([line for line in stderr.splitlines() if line.startswith("gan_lightning: Stopped by SIGINT")]) == 1


@pytest.mark.parametrize("overrides, message", [
    (["lr=1e-3"], "lr=1e-3 is not a key gan_lightning reads: did you mean model.lr=1e-3?"),
    (["model=foo"], "Unknown model 'foo' in model=foo: use one of dcgan, feature_matching, gan, quickstart"),
    (["trainer.precision=8-bit"], "The trainer settings are not accepted (ValueError: Precision '8-bit' is invalid."),
    (["model._target_=nowhere.Model"], "The model target cannot be imported (ModuleNotFoundError: No module named "
                                       "'nowhere'): check its _target_, and that its module is on PYTHONPATH."),
    (["trainer.limit_train_batches=0"], "trainer.limit_train_batches=0 must be positive"),
])
def test_what_hydra_or_lightning_would_reject_is_one_sentence_and_leaves_nothing(tmp_path, overrides, message):
    proc = run_cli(*TINY, "trainer.max_epochs=1", *overrides, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "HYDRA_FULL_ERROR" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert message in line
    assert not (tmp_path / "run").exists() and not (tmp_path / "outputs").exists()


def test_a_refused_resume_puts_back_a_stale_lock_file_and_every_file_time(run_dir, tmp_path):
    (run_dir / ".lock").write_text("pid 1")  # left by a run that was stopped
    times = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    before = files(run_dir)
    proc = run_cli(f"resume={run_dir}", "model.lr=0.1", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and files(run_dir) == before
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()} == times


def test_a_refused_sweep_job_leaves_no_folder_and_the_finished_ones_stay(tmp_path):
    tiny = [*TINY, "trainer.max_epochs=1", "trainer.limit_train_batches=4"]
    proc = run_cli("-m", *tiny, "seed=1,-5", f"hydra.sweep.dir={tmp_path / 'a' / 'sweep'}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "seed=-5 is out of range" in proc.stderr
    jobs = sorted(p.name for p in (tmp_path / "a" / "sweep").iterdir())
    assert len(jobs) == 2 and jobs[0].startswith("0_") and "seed=1" in jobs[0] and jobs[1] == "multirun.yaml"
    proc = run_cli("-m", *tiny, "seed=-5,1", f"hydra.sweep.dir={tmp_path / 'b' / 'sweep'}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and not (tmp_path / "b").exists()  # refused at its first job: no sweep folder


@pytest.mark.parametrize("written", [None, 2])
def test_a_checkpoint_of_another_format_is_refused_in_one_sentence_everywhere(run_dir, tmp_path, written):
    from gan_lightning.models import GAN

    path = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    if written is None:  # a development checkpoint from before formats were numbered
        del checkpoint["gan_lightning"]["format"]
    else:
        checkpoint["gan_lightning"]["format"] = written
    torch.save(checkpoint, path)
    before = files(run_dir)
    expected = f"checkpoint {'format 2' if written else 'a development format'}"
    for command in ([f"resume={run_dir}", "trainer.max_epochs=3"], [f"ckpt_path={path}", "hydra.run.dir=new"]):
        proc = run_cli(*command, cwd=tmp_path, check=False)
        assert proc.returncode == 2 and expected in proc.stderr and "reads format 1 only" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and files(run_dir) == before
    assert not (tmp_path / "new").exists()
    proc = run_cli(f"ckpt={path}", f"out={tmp_path / 'grid.png'}", module="gan_lightning.sample", cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2 and expected in proc.stderr and not (tmp_path / "grid.png").exists()
    with pytest.raises(ConfigError, match="reads format 1 only"):
        GAN.load_from_checkpoint(path)
