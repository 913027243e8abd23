"""Training health (callbacks/health.py): health/ scalars on the generator-step axis, each alarm
once with its evidence and advice, on_alarm=stop as a Ctrl-C stop, the state across a resume,
and data.limit's held-out images. Which runs are sick, and that healthy ones raise nothing, is
measured by benchmarks/health_catalogue.py (docs/health.md)."""

import csv
import math
from types import SimpleNamespace

import pytest
import torch

from conftest import MLP, read_scalars, run_cli
from gan_lightning.callbacks.health import TrainingHealth, ranked_right
from gan_lightning.data import MNIST5kDataModule
from gan_lightning.objective.losses import LOSSES

RUN = ("model=gan", f"net.g_hidden={MLP['g_hidden']}", f"net.d_hidden={MLP['d_hidden']}", "trainer.max_epochs=2",
       "trainer.limit_train_batches=12", "trainer.log_every_n_steps=2", "trainer.enable_progress_bar=false",
       "callbacks.metrics.feature=null", "data.batch_size=32")
# A young MLP critic tells digits from a young G's noise at once: with these thresholds it "overpowers" by step 6.
TOUCHY = ("callbacks.health.warmup_generator_steps=0", "callbacks.health.patience=3",
          "callbacks.health.overpowered_accuracy=0.6", "callbacks.health.overpowered_loss=1.0")


def alarms(text: str) -> list[str]:
    return [line[line.index("Health alarm"):] for line in text.splitlines() if "Health alarm" in line]


def test_ranked_right_is_the_share_of_pairs_in_order_ties_half():
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([2.0, 1.0, 0.0])
    # pairs: (3,2) (3,1) (3,0) right; (1,2) wrong; (1,1) a tie; (1,0) right -> 4.5 of 6
    assert float(ranked_right(real, fake)) == pytest.approx(4.5 / 6)
    assert float(ranked_right(fake, fake)) == pytest.approx(0.5)


def test_health_scalars_and_one_alarm_line_with_evidence_and_advice(tmp_path):
    proc = run_cli(*RUN, *TOUCHY, "hydra.run.dir=run", cwd=tmp_path)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    for name in ("health/d_accuracy", "health/d_loss_ratio", "health/r_t", "health/grad_norm_d", "health/grad_norm_g"):
        # every logging step (every 2nd G step), on the generator-step axis, as train/loss_g
        assert [step for step, _ in scalars[name]] == [step for step, _ in scalars["train/loss_g"]], name
        assert all(torch.isfinite(torch.tensor(value)) for _, value in scalars[name])
    assert all(0 <= value <= 1 for _, value in scalars["health/d_accuracy"])
    assert all(value > 0 for _, value in scalars["health/grad_norm_g"])
    shown = alarms(proc.stdout + proc.stderr)  # (Hydra logs to stdout)
    assert len(shown) == 1, proc.stderr[-2000:]  # raised once, though the streak goes on
    assert shown[0].startswith("Health alarm (d_overpowers) at generator step ")
    assert "of real-fake pairs right with a loss " in shown[0] and "% of a coin toss's at 3 logging steps in a row" in shown[0]
    assert "Try: " in shown[0]
    step = int(shown[0].split("at generator step ")[1].split(":")[0])
    d_x = float(shown[0].split("(D(x) ")[1].split(",")[0])
    assert d_x == pytest.approx(dict(scalars["train/D_x"])[step], rel=0.01)  # this step's D(x), not an older one
    assert alarms((tmp_path / "run" / "train.log").read_text()) == shown
    assert proc.returncode == 0  # on_alarm=warn: the run goes on to its budget
    assert "health/heldout_accuracy" not in scalars  # no data.limit: no held-out images


@pytest.mark.parametrize("loss, coin_toss", [("bce", 2 * math.log(2)), ("relativistic", math.log(2)), ("hinge", 2.0),
                                              ("least_squares", 0.25), ("wasserstein", 0.0)])
def test_the_coin_toss_loss_is_each_losss_loss_when_d_cannot_tell(loss, coin_toss):
    module = SimpleNamespace(discriminator_loss=LOSSES[loss].discriminator)
    scores = torch.tensor([3.0, -1.0, 0.5])
    assert TrainingHealth()._coin_toss(module, scores, scores.flip(0)) == pytest.approx(coin_toss)


def test_a_d_that_ranks_every_pair_right_by_a_small_margin_raises_no_alarm(tmp_path):
    # the run above, whose young D ranks pairs right: asked for a loss under 1% of a coin toss's, it is no alarm
    proc = run_cli(*RUN, *TOUCHY, "callbacks.health.overpowered_loss=0.01", "hydra.run.dir=run", cwd=tmp_path)
    ratios = [value for _, value in read_scalars(tmp_path / "run" / "tensorboard")["health/d_loss_ratio"]]
    assert min(ratios) > 0.01  # (so the accuracy streak alone decides nothing)
    assert alarms(proc.stdout + proc.stderr) == []


def test_an_alarm_that_stops_keeps_the_checkpoint_resumes_without_a_repeat_and_compare_shows_it(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*RUN, *TOUCHY, "callbacks.health.on_alarm=stop", f"hydra.run.dir={run_dir}", cwd=tmp_path,
                   check=False)
    assert proc.returncode == 1
    error = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    assert len(error) == 1 and "Traceback" not in proc.stderr
    assert error[0].startswith("gan_lightning: Stopped by the health alarm (d_overpowers, callbacks.health.on_alarm=stop) "
                               "at generator step ")
    assert f"resume={run_dir}" in error[0]
    stopped_at = int(error[0].split("at generator step ")[1].split()[0])
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["state_dict"]["_extra_state"]["generator_steps"] == stopped_at < 24
    health = next(state for key, state in checkpoint["callbacks"].items() if "TrainingHealth" in key)
    assert health["raised"] == ["d_overpowers"]

    # compare: stopped, with its alarm
    run_cli(str(run_dir), "--out", str(tmp_path / "table"), cwd=tmp_path, module="gan_lightning.compare")
    with open(tmp_path / "table" / "comparison.csv", newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert row["runs"] == "1 stopped" and row["alarms"] == "1 d_overpowers"

    # the resumed run keeps what it had raised: no second alarm, and it trains to its budget
    # (the watch's keys may change on a resume: it reads the run, it does not train it)
    resumed = run_cli(f"resume={run_dir}", "callbacks.health.on_alarm=warn", cwd=tmp_path)
    assert alarms(resumed.stdout + resumed.stderr) == []
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]["_extra_state"][
        "generator_steps"] == 24
    assert alarms((run_dir / "train.log").read_text()) == alarms(proc.stdout + proc.stderr)  # the one alarm


def test_health_off_writes_no_health_scalars(tmp_path):
    run_cli(*RUN, "callbacks.health=null", "hydra.run.dir=run", cwd=tmp_path)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    assert "train/loss_g" in scalars and not any(name.startswith("health/") for name in scalars)


def test_a_limited_data_set_is_class_balanced_the_same_for_a_seed_and_holds_the_rest_out(tmp_path):
    def limited(seed: int, limit: int = 1000) -> MNIST5kDataModule:
        torch.manual_seed(seed)
        dm = MNIST5kDataModule(limit=limit)
        dm.use_labels()
        dm.setup("fit")
        return dm

    a, b, other = limited(1), limited(1), limited(2)
    assert a.images.shape[0] == 1000 and torch.bincount(a.labels).tolist() == [100] * 10
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, other.images)
    held = a.heldout_images(4000)
    assert held.shape[0] == 4000  # the other 4,000 digits
    seen = {bytes(image.numpy()) for image in a.images}
    assert not any(bytes(image.numpy()) in seen for image in held[:200])
    assert a.real_images(5000).shape[0] == 5000  # the metrics compare against the whole data set
    assert MNIST5kDataModule(limit=None).heldout_images(10) is None


@pytest.mark.parametrize("data", ["mnist5k", "folder", "conditional, fewer than it holds out"])
def test_limited_data_shows_whether_d_memorises_its_images(tmp_path, data):
    folder, limit, steps = [], "data.limit=128", [2, 4, 6, 8]  # 4 batches an epoch
    if data.startswith("conditional"):  # 96 images trained on, 128 held-out ones checked: 96 pairs
        folder, limit, steps = ["conditional=true"], "data.limit=96", [2, 4, 6]
    if data == "folder":  # a flat folder of 160 pictures, streamed from disk
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        (tmp_path / "pictures").mkdir()
        for i in range(160):
            Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(tmp_path / "pictures" / f"{i}.png")
        folder = ["data=folder", f"data.root={tmp_path / 'pictures'}", "data.image_size=8", "data.channels=1",
                  "data.num_workers=0", "data.batch_size=32"]
    run_cli(*RUN, *folder, limit, "hydra.run.dir=run", cwd=tmp_path)
    heldout = read_scalars(tmp_path / "run" / "tensorboard")["health/heldout_accuracy"]
    assert [step for step, _ in heldout] == steps and all(0 <= value <= 1 for _, value in heldout)


@pytest.mark.parametrize("override, sentence", [
    ("data.limit=6000", "data.limit=6000 is more than the 5,000 images of mnist5k: lower it"),
    ("data.limit=0", "data.limit=0 must be a positive whole number of images"),
    ("data.limit=8", "data.limit=8 is fewer images than one batch (data.batch_size=32)"),
    ("callbacks.health.on_alarm=maybe", "callbacks.health.on_alarm='maybe' must be warn or stop: "
                                        "e.g. callbacks.health.on_alarm='warn', the default."),
    ("callbacks.health.patience=0", "callbacks.health.patience=0 must be a whole number of at least 1: "
                                    "e.g. callbacks.health.patience=10, the default."),
    ("callbacks.health.overfit_accuracy=2", "callbacks.health.overfit_accuracy=2 must be a number in (0.5, 1.0]: "
                                            "e.g. callbacks.health.overfit_accuracy=0.75, the default."),
    ("callbacks.health.overpowered_loss=null", "callbacks.health.overpowered_loss=null must be a number in (0.0, 1.0]: "
                                               "e.g. callbacks.health.overpowered_loss=0.25, the default."),
    ("data.limit=1000 seed=null", "data.limit=1000 with seed=null: the 1000 images are drawn from the seed, so a "
                                  "resume or the sampling views could not find the same ones again"),
], ids=["limit above the data", "limit zero", "limit below a batch", "on_alarm word", "patience zero",
        "accuracy above one", "loss share null", "limit without a seed"])
def test_bad_health_and_limit_values_are_one_sentence_and_write_nothing(tmp_path, override, sentence):
    proc = run_cli(*RUN, *override.split(), "hydra.run.dir=run", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"gan_lightning: {lines[0].removeprefix('gan_lightning: ')}"] and sentence in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


def evaluations(health: TrainingHealth):
    """evaluate(step, {metric: value}): `health` after an evaluation at `step` that logged those
    metrics (as the metrics callback leaves them), without a run; returns the alarms raised so far."""
    from types import SimpleNamespace

    metrics_callback = SimpleNamespace(evaluated_step=None)
    trainer = SimpleNamespace(callback_metrics={}, callbacks=[metrics_callback, health], world_size=1,
                              is_global_zero=True)
    module = SimpleNamespace(generator_steps=0)

    def evaluate(step: int, metrics: dict[str, float]) -> list[str]:
        module.generator_steps = metrics_callback.evaluated_step = step
        trainer.callback_metrics = {name: torch.tensor(value) for name, value in metrics.items()}
        health.on_train_epoch_end(trainer, module)
        return list(health.raised)

    return evaluate


def test_evaluation_alarms_wait_for_the_second_evaluation_and_come_once(caplog):
    health = TrainingHealth(warmup_generator_steps=0)
    evaluate = evaluations(health)

    def evaluation(step, fid, spread):
        return evaluate(step, {"val/fid": fid, "val/feature_spread": spread})

    with caplog.at_level("WARNING"):
        assert evaluation(100, 800.0, 0.01) == []  # the first: G has barely begun
        assert evaluation(200, 60.0, 0.5) == []
        assert evaluation(300, 121.0, 0.5) == ["fid_worse"]  # above 60 x (1 + fid_rise=1.0)
        assert evaluation(400, 200.0, 0.1) == ["fid_worse", "mode_collapse"]
        assert evaluation(500, 300.0, 0.05) == ["fid_worse", "mode_collapse"]  # each once
    lines = [record.getMessage() for record in caplog.records if "Health alarm" in record.getMessage()]
    assert lines[0].startswith("Health alarm (fid_worse) at generator step 300: FID rose to 121.0 from its best, "
                               "60.0 at generator step 200.")
    assert lines[1].startswith("Health alarm (mode_collapse) at generator step 400: the samples' variance in the "
                               "metric's feature space is 10.0% of the real images'")
    assert len(lines) == 2
    assert TrainingHealth().state_dict()["evaluations"] == 0 and health.state_dict()["evaluations"] == 5


@pytest.mark.parametrize("metric", ["val/feature_spread", "val/class_coverage"])
def test_a_young_g_gaining_variety_is_no_mode_collapse_and_one_that_stops_gaining_is(metric):
    health = TrainingHealth(warmup_generator_steps=0)
    evaluate = evaluations(health)
    other = "val/class_coverage" if metric == "val/feature_spread" else "val/feature_spread"
    low = (0.01, 0.05, 0.12, 0.12) if metric == "val/feature_spread" else (1, 3, 5, 5)  # all below the floor
    for step, value, raised in ((100, low[0], []), (200, low[1], []), (300, low[2], []), (400, low[3], ["mode_collapse"])):
        # the other signal low and flat: one that rises is enough to call G young
        flat = 0.01 if other == "val/feature_spread" else 1.0
        assert evaluate(step, {"val/fid": 900.0 - step, metric: value, other: flat}) == raised, step
    resumed = TrainingHealth()
    resumed.load_state_dict(health.state_dict())  # what the last evaluation saw goes into the checkpoint
    assert resumed.variety == health.variety


def test_a_d_that_wins_is_no_alarm_while_fid_falls_and_is_one_when_it_stops_falling(caplog):
    """The annealed hinge recipes (experiment=digits_8min) have a D that wins every pair from about
    step 5,700 while FID falls from 12 to 7: the alarm waits for two evaluations without a new best."""
    health = TrainingHealth(warmup_generator_steps=0, patience=2)
    evaluate = evaluations(health)
    hinge = LOSSES["hinge"]
    module = SimpleNamespace(at_logging_step=lambda: True, last_scores=(torch.full((8,), 3.0), torch.full((8,), -3.0)),
                             discriminator_loss=hinge.discriminator, own_loss=None,
                             hparams=SimpleNamespace(loss="hinge"), report=lambda name, value: None,
                             pending=lambda name: None, generator_steps=0)
    trainer = SimpleNamespace(callbacks=[health], world_size=1, is_global_zero=True)

    def logging_steps(*steps: int) -> list[str]:  # D ranks every pair right, its hinge loss 0
        for step in steps:
            module.generator_steps = step
            health.on_train_batch_end(trainer, module, None, None, 0)
        return list(health.raised)

    with caplog.at_level("WARNING"):
        evaluate(100, {"val/fid": 50.0})
        assert logging_steps(110, 120, 130) == ["d_overpowers"]  # one evaluation: no trend to read, D's side alone
        health.raised.clear()
        evaluate(200, {"val/fid": 30.0})
        assert logging_steps(210, 220, 230) == []  # a new best, 50 -> 30: G still learns
        evaluate(300, {"val/fid": 31.0})
        assert logging_steps(310) == []  # one evaluation above the best: the noise of a falling FID
        evaluate(400, {"val/fid": 30.5})
        assert logging_steps(410) == ["d_overpowers"]  # two without a new best: raised, the streak having gone on
    line = [record.getMessage() for record in caplog.records if "Health alarm" in record.getMessage()][-1]
    assert line.startswith("Health alarm (d_overpowers) at generator step 410: D ranked 100.0% of real-fake pairs "
                           "right with a loss 0% of a coin toss's at 8 logging steps in a row, and FID made no new "
                           "best since 30.0 at generator step 200 (31.0 at generator step 300, 30.5 at generator "
                           "step 400).")
    resumed = TrainingHealth()
    resumed.load_state_dict(health.state_dict())  # the evaluations go into the checkpoint
    assert resumed.fids == [(100, 50.0), (200, 30.0), (300, 31.0), (400, 30.5)]


def test_an_alarm_at_the_runs_last_step_ends_it_finished_without_a_resume_to_offer(tmp_path):
    """on_alarm=stop, and the alarm comes at the evaluation after the last epoch: the budget ends
    the run anyway, so it finishes (exit 0) instead of printing a resume that would be refused."""
    # a G that cannot change (no BatchNorm statistics, a vanishing lr) draws no more variety at its
    # last evaluation than at its first: mode_collapse, at the last step
    proc = run_cli(*RUN, "net.g_batchnorm=false", "model.lr=1e-30", "callbacks.metrics.feature=mnist",
                   "callbacks.metrics.num_samples=200",
                   "callbacks.health.spread_floor=0.999", "callbacks.health.warmup_generator_steps=0",
                   "callbacks.health.patience=100",
                   "callbacks.health.on_alarm=stop", "hydra.run.dir=run",
                   cwd=tmp_path, check=False)
    assert proc.returncode == 0 and "Resume with" not in proc.stderr, proc.stderr[-2000:]
    shown = alarms(proc.stdout + proc.stderr)
    assert len(shown) == 1 and shown[0].startswith("Health alarm (mode_collapse) at generator step 24")
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["state_dict"]["_extra_state"]["generator_steps"] == 24
