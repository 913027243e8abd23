"""`python -m gan_lightning.compare`: a sweep's runs in one table, their pictures, and the runs
that failed, are running or are half-written."""

import csv
import os
import re
import statistics
from pathlib import Path

import pytest
import yaml
from PIL import Image

from conftest import read_scalars, run_cli

SWEEP = ("trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.enable_progress_bar=false",
         "callbacks.metrics.num_samples=32", "callbacks.metrics.every_n_epochs=1")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A real 2 x 2 sweep (lr x seed) through `python -m gan_lightning -m`: its directory."""
    cwd = tmp_path_factory.mktemp("sweep")
    run_cli("-m", "model.lr=1e-3,3e-3", "seed=1,2", *SWEEP, "hydra.sweep.dir=sweep", cwd=cwd)
    return cwd / "sweep"


def _lines(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning.compare: ")]


def test_a_sweep_becomes_one_row_per_configuration_with_its_seeds(sweep):
    proc = run_cli(str(sweep), cwd=sweep.parent, module="gan_lightning.compare")
    with open(sweep / "comparison.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(float(row["model.lr"]) for row in rows) == [1e-3, 3e-3]
    assert float(rows[0]["best_fid_mean"]) <= float(rows[1]["best_fid_mean"])  # best first
    assert "seed" not in rows[0] and rows[0]["best"] == "True" and rows[1]["best"] == "False"
    for row in rows:  # the numbers are the runs' own: mean and std over the two seeds
        runs = [path for path in sweep.iterdir() if path.is_dir() and f"model.lr={row['model.lr']}," in path.name]
        assert len(runs) == 2 and row["seeds"] == "2" and row["runs"] == "2 finished"
        scalars = [read_scalars(run / "tensorboard") for run in runs]
        best = [min(value for _, value in s["val/fid"]) for s in scalars]
        final = [s["val/fid"][-1][1] for s in scalars]
        assert float(row["best_fid_mean"]) == pytest.approx(statistics.fmean(best))
        assert float(row["best_fid_std"]) == pytest.approx(statistics.stdev(best))
        assert float(row["final_fid_mean"]) == pytest.approx(statistics.fmean(final))
        assert float(row["final_is_mean"]) == pytest.approx(statistics.fmean(s["val/is"][-1][1] for s in scalars))
        assert float(row["generator_steps_mean"]) == 6 and float(row["seconds_mean"]) > 0
    # printed, and written as markdown with the pictures beside it
    assert "| **best** | `" + rows[0]["model.lr"] + "` | 2 | 2 finished |" in proc.stdout
    markdown = (sweep / "comparison.md").read_text()
    assert "Configurations differ in `model.lr`" in markdown and "![fid_curves.png](fid_curves.png)" in markdown
    with Image.open(sweep / "fid_curves.png") as picture:
        assert picture.size[0] > 400
    assert not (sweep / "fid_heatmap.png").exists()  # one setting: no grid


def _fake_run(root, name, overrides, fids=(), log="", lock_pid=None, steps=None):
    """A run directory as `python -m gan_lightning` leaves it, with FID points `fids` [(step, value)]."""
    from torch.utils.tensorboard import SummaryWriter

    run = root / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"seed": 42, "model": {"lr": 0.0002, "beta1": 0.5}}))
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {"model": "dcgan"}}}}))
    (run / "train.log").write_text(log)
    if fids:
        writer = SummaryWriter(run / "tensorboard")
        for step, value in fids:
            writer.add_scalar("val/fid", value, step)
            writer.add_scalar("train/loss_g", 1.0, steps or step)
        writer.close()
    if lock_pid is not None:
        (run / ".lock").write_text(f"pid {lock_pid}")
    return run


FINISHED = "[2026-12-01 10:00:00,000][gan_lightning.train][INFO] - finished: 20 generator steps\n"


def test_runs_without_metrics_say_so_and_draw_no_pictures(tmp_path):
    _fake_run(tmp_path / "runs", "off", ["model.lr=1e-4"], [], FINISHED)
    config = tmp_path / "runs" / "off" / ".hydra" / "config.yaml"
    config.write_text(yaml.safe_dump({"seed": 1, "callbacks": {"metrics": {"feature": None}}}))
    proc = run_cli(str(tmp_path / "runs"), cwd=tmp_path, module="gan_lightning.compare")
    assert "finished, no FID: metrics were off (callbacks.metrics.feature=null)" in proc.stdout
    assert (tmp_path / "runs" / "comparison.md").is_file() and not (tmp_path / "runs" / "fid_curves.png").exists()
    assert "# Comparison of 1 run\n" in (tmp_path / "runs" / "comparison.md").read_text()


def test_two_settings_make_a_heatmap_and_unfinished_runs_say_how_they_stand(tmp_path):
    sweep = tmp_path / "sweep"
    for lr in ("1e-4", "2e-4"):
        for beta1 in ("0.0", "0.5"):
            for seed in (1, 2):
                fid = 100 * float(lr) * 1e4 + 10 * float(beta1) + seed
                _fake_run(sweep, f"{lr}_{beta1}_{seed}", [f"model.lr={lr}", f"model.beta1={beta1}", f"seed={seed}"],
                          [(10, fid + 50), (20, fid)], FINISHED)
    _fake_run(sweep, "crashed", ["model.lr=1e-4", "model.beta1=0.0", "seed=3"], [], (
        "[2026-12-01 10:00:00,000][gan_lightning][ERROR] - Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\nRuntimeError: CUDA out of memory\n'))
    _fake_run(sweep, "diverged", ["model.lr=2e-4", "model.beta1=0.5", "seed=3"], [(10, 90.0)],
              "[2026-12-01 10:00:00,000][gan_lightning][ERROR] - Training diverged: loss_d became NaN at generator "
              "step 12; last.ckpt is from step 10.\n")
    _fake_run(sweep, "training", ["model.lr=2e-4", "model.beta1=0.0", "seed=3"], [(10, 500.0)], "", os.getpid())
    _fake_run(sweep, "ctrl-c", ["model.lr=1e-4", "model.beta1=0.5", "seed=3"], [(10, 300.0)],
              "[2026-12-01 10:00:00,000][gan_lightning][ERROR] - Stopped by SIGINT (Ctrl-C) at generator step 12 "
              "(epoch 1); last.ckpt holds it. Resume with: python -m gan_lightning resume=x\n")
    _fake_run(sweep, "again", ["model.lr=2e-4", "model.beta1=0.5", "seed=1"], [(10, 400.0), (20, 300.0)], FINISHED)
    proc = run_cli(str(sweep), cwd=tmp_path, module="gan_lightning.compare")
    with open(sweep / "comparison.csv", newline="") as file:
        rows = {(row["model.lr"], row["model.beta1"]): row for row in csv.DictReader(file)}
    assert rows[("1e-4", "0.0")]["best"] == "True"
    assert float(rows[("1e-4", "0.0")]["best_fid_mean"]) == pytest.approx(101.5)  # seeds 1, 2; the crash has no FID
    assert rows[("1e-4", "0.0")]["runs"] == "2 finished, 1 failed" and rows[("1e-4", "0.0")]["seeds"] == "2"
    assert rows[("2e-4", "0.0")]["runs"] == "2 finished, 1 running"
    assert rows[("1e-4", "0.5")]["runs"] == "2 finished, 1 stopped"  # Ctrl-C: resumable, not failed
    assert rows[("2e-4", "0.5")]["seeds"] == "3"  # seeds 1, 2, 3 and 1 again: three seeds, four runs
    assert rows[("2e-4", "0.5")]["runs"] == "3 finished, 1 failed"
    assert float(rows[("2e-4", "0.0")]["best_fid_mean"]) == pytest.approx((201 + 202 + 500) / 3)  # read so far
    assert float(rows[("1e-4", "0.0")]["final_fid_mean"]) == pytest.approx(101.5)
    assert float(rows[("1e-4", "0.0")]["best_fid_std"]) == pytest.approx(statistics.stdev([101, 102]))
    assert f"`{sweep / 'crashed'}`: failed: RuntimeError: CUDA out of memory, no FID evaluation yet" in proc.stdout
    assert f"`{sweep / 'diverged'}`: failed: Training diverged: loss_d became NaN at generator step 12" in proc.stdout
    assert f"`{sweep / 'ctrl-c'}`: stopped: Stopped by SIGINT (Ctrl-C) at generator step 12" in proc.stdout
    with Image.open(sweep / "fid_heatmap.png") as picture:
        assert picture.size[0] > 200
    assert "![fid_heatmap.png](fid_heatmap.png)" in (sweep / "comparison.md").read_text()


@pytest.mark.parametrize("case", ["missing path", "no runs", "half-written", "--out a file", "--out not makeable"])
def test_bad_compare_input_is_one_sentence_and_overwrites_nothing(tmp_path, case):
    sweep = tmp_path / "sweep"
    _fake_run(sweep, "good", ["model.lr=1e-4", "seed=1"], [(10, 50.0)], FINISHED)
    (sweep / "comparison.md").write_text("an earlier comparison\n")
    (tmp_path / "a_file").write_text("")
    arguments, message = {
        "missing path": ([tmp_path / "nowhere"], "does not exist: give run directories or a sweep's directory"),
        "no runs": ([tmp_path / "sweep" / "good" / "tensorboard"], "No runs in"),
        "half-written": ([sweep], "is half-written or damaged: .hydra/config.yaml cannot be read"),
        "--out a file": ([sweep, "--out", tmp_path / "a_file"],
                         f"--out {tmp_path / 'a_file'} is a file, not a folder: give a folder you can write"),
        "--out not makeable": ([sweep, "--out", "/proc/x"],
                               "--out /proc/x cannot be made (No such file or directory): give a folder you can write"),
    }[case]
    if case == "half-written":
        bad = _fake_run(sweep, "starting", ["model.lr=2e-4", "seed=1"])
        (bad / ".hydra" / "config.yaml").write_text("model: {lr: [0.1,\n")
    proc = run_cli(*map(str, arguments), cwd=tmp_path, module="gan_lightning.compare", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(_lines(proc)) == 1 and message in _lines(proc)[0], proc.stderr
    assert (sweep / "comparison.md").read_text() == "an earlier comparison\n"
    assert not (sweep / "comparison.csv").exists() and not (sweep / "fid_curves.png").exists()


def test_a_setting_one_run_typed_reads_the_same_way_from_the_others_configs():
    from gan_lightning.compare.runs import Run

    typed = Run(Path("a"), {"conditional": "true"}, {"conditional": True}, {})
    composed = Run(Path("b"), {}, {"conditional": False, "seed": None, "model": {"lr": 0.001}}, {})
    assert (typed.setting("conditional"), composed.setting("conditional")) == ("true", "false")  # not True/False
    assert (composed.setting("seed"), composed.setting("model.lr"), composed.setting("nothing")) == ("null", "0.001", "-")


def test_a_finished_run_whose_scalars_are_cut_short_says_so(tmp_path):
    _fake_run(tmp_path / "runs", "cut", ["model.lr=1e-4"], [], FINISHED)
    events = tmp_path / "runs" / "cut" / "tensorboard"
    events.mkdir(parents=True, exist_ok=True)
    (events / "events.out.tfevents.1.host").write_bytes(b"\x00" * 50)  # cut short by a full disk
    proc = run_cli(str(tmp_path / "runs"), cwd=tmp_path, module="gan_lightning.compare")
    assert "its TensorBoard and CSV scalars cannot be read (cut short or removed); G steps from train.log" in proc.stdout
    assert re.search(r"\| 1 finished \|.*\| 20 \|", proc.stdout), proc.stdout  # train.log's 20 generator steps
