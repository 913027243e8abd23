"""The limited-data pieces: ADA's adaptive augmentation (augment=ada), APA (reg=apa) and LeCam
(reg=lecam), each against a hand computation and through `python -m gan_lightning`: p logged on
the generator-step axis, their state carried bit-exactly across a resume, bad values refused."""

import math

import pytest
import torch
import yaml

from conftest import MLP, assert_same_training_state, read_scalars, run_cli
from gan_lightning.errors import ConfigError
from gan_lightning.objective import build_objective
from gan_lightning.objective.adaptive import AdaptiveProbability, PseudoAugment
from gan_lightning.objective.augment import AdaptiveAugment
from gan_lightning.objective.lecam import LeCam

RUN = ("model=gan", f"net.g_hidden={MLP['g_hidden']}", f"net.d_hidden={MLP['d_hidden']}", "trainer.max_epochs=2",
       "trainer.limit_train_batches=10", "trainer.log_every_n_steps=2", "trainer.enable_progress_bar=false",
       "callbacks.metrics.feature=null", "data.batch_size=32", "data.limit=320")
# every piece at once, quick to move: p can cross [0, 1] in 1,000 images (31 batches)
LITTLE_DATA = ("augment=ada", "augment.kimg=1", "reg=[r1,lecam,apa]", "reg.apa.kimg=1", "reg.r1.gamma=1")


def test_p_moves_by_the_images_seen_toward_r_t_s_target_and_stays_in_0_1():
    steered = AdaptiveProbability("augment", target=0.6, kimg=0.1, interval=2)  # 100 units of 1/100
    steered.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]), critic_step=1)
    assert float(steered.p) == 0  # moves on every 2nd critic step only
    steered.observe(torch.tensor([1.0, 1.0, 1.0, 1.0]), critic_step=2)  # r_t = (2 + 4) / 8 = 0.75 > 0.6
    assert float(steered.p) == pytest.approx(8 / 100)  # up by the 8 images seen
    steered.observe(torch.tensor([-1.0, 1.0]), critic_step=3)
    steered.observe(torch.tensor([1.0, -1.0]), critic_step=4)  # r_t = 0 < 0.6: down by 4
    assert float(steered.p) == pytest.approx(4 / 100)
    for step in range(5, 100):
        steered.observe(torch.full((8,), -3.0), critic_step=step)
    assert float(steered.p) == 0  # clamped
    for step in range(100, 200):
        steered.observe(torch.full((8,), 2.0), critic_step=step)
    assert float(steered.p) == 1


def test_lecam_is_the_papers_term_on_moving_averages_updated_first():
    lecam = LeCam(gamma=0.3, decay=0.9)
    real, fake = torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5])
    # first batch: a_R = 1.5, a_F = -0.25; relu(x - a_F)^2 = 1.25^2, 2.25^2; relu(a_R - D(G(z)))^2 = 2.5^2, 1^2
    assert float(lecam(real, fake)) == pytest.approx((1.25**2 + 2.25**2) / 2 + (2.5**2 + 1.0) / 2)
    real2, fake2 = torch.tensor([0.0, 0.0]), torch.tensor([3.0, 3.0])
    a_real, a_fake = 0.9 * 1.5 + 0.1 * 0.0, 0.9 * -0.25 + 0.1 * 3.0  # 1.35, 0.075
    expected = max(0.0 - a_fake, 0.0) ** 2 + max(a_real - 3.0, 0.0) ** 2  # both terms clipped to 0 by relu
    assert float(lecam(real2, fake2)) == pytest.approx(expected)
    assert lecam.averages.tolist() == pytest.approx([a_real, a_fake])
    scores = torch.tensor([5.0, -5.0], requires_grad=True)
    lecam(scores, -scores).backward()  # differentiable in the scores
    assert scores.grad.abs().sum() > 0


def test_apa_shows_fakes_as_reals_with_probability_p():
    real, fake = torch.zeros(1000, 1, 2, 2), torch.ones(1000, 1, 2, 2)
    apa = PseudoAugment()
    assert torch.equal(apa(real, fake), real)  # p starts at 0
    apa.units_on.fill_(apa.units // 4)  # p = 0.25
    shown = apa(real, fake)
    assert ((shown == 0) | (shown == 1)).all() and shown.amax((1, 2, 3)).equal(shown.amin((1, 2, 3)))  # whole images
    assert 0.2 < float(shown.mean()) < 0.3


def test_ada_augments_with_p_from_its_steer():
    ada = AdaptiveAugment(policy=["cutout"], p=0.0)
    x = torch.ones(200, 1, 8, 8)
    assert torch.equal(ada(x), x)
    ada.steer.units_on.fill_(ada.steer.units)  # p = 1: every image loses a square
    assert (ada(x).flatten(1).min(1).values == 0).all()


def test_a_run_with_ada_apa_and_lecam_logs_their_p_on_the_generator_step_axis(tmp_path):
    run_cli(*RUN, *LITTLE_DATA, "hydra.run.dir=run", cwd=tmp_path)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    for name in ("augment/p", "apa/p", "train/lecam", "train/r1"):
        assert [step for step, _ in scalars[name]] == [step for step, _ in scalars["train/loss_g"]], name
    # D tells 320 digits from a young G's output at once (r_t near 1): both p rise, as fast as kimg=1 allows
    for name in ("augment/p", "apa/p"):
        values = [value for _, value in scalars[name]]
        assert values[-1] > values[0] and 0 < values[-1] <= 1, (name, values)
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert int(state["augment.steer.units_on"]) / 1000 == pytest.approx(scalars["augment/p"][-1][1])
    assert state["lecam._extra_state"]["averages"].dtype == torch.float64


def test_a_resumed_run_keeps_p_and_the_lecam_averages_bit_exactly(tmp_path):
    run_cli(*RUN, *LITTLE_DATA, "hydra.run.dir=whole", cwd=tmp_path)
    run_cli(*RUN, *LITTLE_DATA, "max_generator_steps=13", "hydra.run.dir=halves", cwd=tmp_path)  # mid-epoch 2
    run_cli("resume=halves", "max_generator_steps=20", cwd=tmp_path)  # the whole run's 2 epochs
    whole, halves = (torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)
                     for name in ("whole", "halves"))
    assert_same_training_state(whole, halves)  # every buffer: ADA's and APA's counts among them
    assert torch.equal(whole["state_dict"]["lecam._extra_state"]["averages"],
                       halves["state_dict"]["lecam._extra_state"]["averages"])


@pytest.mark.parametrize("overrides, message", [
    (["augment=ada", "loss=wasserstein", "reg=gp"], "augment=ada steers its p by r_t = E[sign D(x)], which needs "
     "D's scores centred on 0, and loss=wasserstein has no such centre: use loss=bce or loss=hinge."),
    (["reg=apa", "loss=least_squares"], "reg=apa steers its p by r_t"),
    (["augment=ada", "augment.target=1.5"], "augment.target=1.5 must lie in (0, 1), e.g. augment.target=0.6."),
    (["augment=ada", "augment.kimg=0"], "augment.kimg=0 must be positive, e.g. augment.kimg=100."),
    (["reg=apa", "reg.apa.p=2"], "reg.apa.p=2 is the starting probability: use a number in [0, 1]"),
    (["reg=lecam", "reg.lecam.decay=1"], "reg.lecam.decay=1 must lie in [0, 1), e.g. reg.lecam.decay=0.99."),
    (["reg=lecam", "reg.lecam.every=2"], "reg.lecam.every=2: reg.lecam has no key 'every' (its keys: decay, gamma)."),
    # the conflict first, not the final value a schedule would need
    (["augment=ada", "schedule.augment_p=cosine"],
     "schedule.augment_p=cosine and augment=ada both set augment.p: ADA steers it by itself"),
])
def test_bad_little_data_values_are_one_sentence_and_leave_nothing(tmp_path, overrides, message):
    proc = run_cli(*RUN, *overrides, "hydra.run.dir=run", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr, proc.stderr[-1500:]
    assert not (tmp_path / "run").exists()


def test_the_objective_names_its_adaptive_pieces():
    objective = build_objective("hinge", {"apa": {}, "lecam": {}}, {"name": "ada"}, {})
    assert [steered.key for steered in objective.adaptive] == ["augment", "reg.apa"]
    assert objective.lecam.gamma == 0.3
    with pytest.raises(ConfigError, match="Unknown reg entry 'lecm'"):
        build_objective("bce", {"lecm": {}}, None, {})


def test_the_8_minute_digits_recipe_keeps_its_budget_and_anneals_lr_along_a_cosine(tmp_path):
    config = yaml.safe_load(run_cli("experiment=digits_8min", "--cfg", "job", cwd=tmp_path).stdout)
    assert (config["loss"]["name"], config["model"]["lr"], config["data"]["_target_"]) == (
        "hinge", 4e-3, "gan_lightning.data.MNIST5kDataModule")
    assert (config["schedule"]["lr"], config["schedule"]["steps"], config["schedule"]["final"]["lr"]) == ("cosine", 13000, 0.0)
    assert (config["max_generator_steps"], config["trainer"]["max_time"]) == (13000, "00:00:08:00")
    # the same recipe at a toy size: the schedule spans its steps (the last, step 5 of 6, near lr 0)
    run_cli("experiment=digits_8min", "net.g_features=8", "net.d_features=8", "max_generator_steps=6", "schedule.steps=6",
            "trainer.limit_train_batches=4", "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false",
            "hydra.run.dir=run", cwd=tmp_path)
    assert "Schedule: lr follows a cosine over 6 generator steps" in (tmp_path / "run" / "train.log").read_text()
    optimizers = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["optimizer_states"]
    last_lr = 4e-3 * (1 + math.cos(math.pi * 5 / 6)) / 2
    assert [group["lr"] for state in optimizers for group in state["param_groups"]] == [pytest.approx(last_lr)] * 2


def test_the_few_images_recipe_is_the_8_minute_recipe_with_apa_and_lecam(tmp_path):
    run_cli("experiment=few_images", "reg.apa.target=0.7", "data.limit=64", "net.g_features=8", "net.d_features=8",
            "max_generator_steps=4", "schedule.steps=4", "trainer.log_every_n_steps=2", "callbacks.metrics.feature=null",
            "trainer.enable_progress_bar=false", "hydra.run.dir=run", cwd=tmp_path)
    config = yaml.safe_load((tmp_path / "run" / ".hydra" / "config.yaml").read_text())
    assert (config["augment"]["name"], sorted(config["reg"]), config["model"]["lr"]) == ("none", ["apa", "gamma", "lecam"], 4e-3)
    assert (config["loss"]["name"], config["schedule"]["lr"], config["reg"]["apa"]["target"]) == ("hinge", "cosine", 0.7)
    assert "Schedule: lr follows a cosine over 4 generator steps" in (tmp_path / "run" / "train.log").read_text()
    shipped = yaml.safe_load(run_cli("experiment=few_images", "--cfg", "job", cwd=tmp_path).stdout)
    assert shipped["schedule"]["steps"] == shipped["max_generator_steps"] == 8000
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    assert [step for step, _ in scalars["apa/p"]] == [step for step, _ in scalars["train/lecam"]] == [2, 4]
