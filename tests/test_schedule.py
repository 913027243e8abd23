"""Schedules (models/schedule.py, the `schedule` group) and R3GAN's recipe (model=r3gan,
experiment=r3gan_cifar10): values that change with the generator step, for any model, logged
to TensorBoard, acting where they say, and the same at every step across a resume."""

import math

import pytest
import torch
import yaml

from conftest import MLP, RandomImages, assert_same_training_state, fit, read_scalars, run_cli
from gan_lightning.errors import ConfigError
from gan_lightning.models import RpGAN
from gan_lightning.models.ema import EMA
from gan_lightning.models.schedule import cosine, parse_schedule
from gan_lightning.nets import build_nets
from gan_lightning.objective.augment import DiffAugment

QUIET = ("callbacks.metrics.feature=null", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1")
DCGAN = ("model=dcgan", "net.g_features=8", "net.d_features=8", "data.batch_size=16", "trainer.limit_train_batches=10",
         *QUIET)
# every schedulable key at once: R3GAN's schedules on the MLP GAN
EVERY_KEY = ("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "reg=[r1,r2]", "augment=diffaugment",
             "augment.p=0", "model.ema_half_life=0", "schedule=r3gan", "data.batch_size=16",
             "trainer.limit_train_batches=10", "trainer.max_epochs=3", *QUIET)
SCHEDULED = ["schedule/lr", "schedule/beta2", "schedule/gamma_r1", "schedule/gamma_r2", "schedule/augment_p",
             "schedule/ema_half_life"]


def load(run_dir) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def test_cosine_is_r3gan_s_decay_with_warm_up():
    # R3GAN's CIFAR-10 lr, 2e-4 -> 5e-5: the start, half-way, the end, and final after it
    assert cosine(0, 100, 2e-4, 5e-5) == 2e-4
    assert cosine(50, 100, 2e-4, 5e-5) == pytest.approx(1.25e-4)
    assert cosine(100, 100, 2e-4, 5e-5) == cosine(500, 100, 2e-4, 5e-5) == 5e-5
    # a rising value (beta2 0.9 -> 0.99, the EMA's half-life 0 -> 5M images) takes the same half cosine
    assert cosine(25, 100, 0.9, 0.99) == pytest.approx(0.99 - 0.09 * (1 + math.cos(math.pi / 4)) / 2)
    # warm-up: from 0 to the start linearly, then the cosine over the rest
    assert [cosine(s, 110, 1.0, 0.0, warmup=10) for s in (0, 5, 10)] == [0.0, 0.5, 1.0]
    assert cosine(60, 110, 1.0, 0.0, warmup=10) == pytest.approx(0.5)


def test_only_cosine_keys_are_scheduled():
    assert parse_schedule({"lr": "constant", "final": {"lr": 0.0}}) is None
    schedule = parse_schedule({"lr": "cosine", "gamma": "cosine", "warmup": 5, "steps": 50,
                               "final": {"lr": 0.0, "gamma": 0.1, "beta2": None}})
    assert schedule.keys == ("lr", "gamma") and (schedule.warmup, schedule.steps) == (5, 50)


def test_a_cosine_lr_for_any_model_is_logged_recorded_and_trained_with(tmp_path):
    run = tmp_path / "run"
    run_cli(*DCGAN, "trainer.max_epochs=2", "schedule.lr=cosine", f"hydra.run.dir={run}", cwd=tmp_path)
    lrs = read_scalars(run / "tensorboard")["schedule/lr"]
    # one point per generator step: the lr that step trained with, from model.lr down half a cosine
    # to schedule.final.lr (0) over the budget's 20 steps
    assert [step for step, _ in lrs] == list(range(1, 21))
    assert [v for _, v in lrs] == pytest.approx([2e-4 * (1 + math.cos(math.pi * k / 20)) / 2 for k in range(20)],
                                                rel=1e-5, abs=1e-12)
    checkpoint = load(run)
    assert checkpoint["hyper_parameters"]["schedule"]["lr"] == "cosine"  # what trained is what is recorded
    assert checkpoint["state_dict"]["_extra_state"]["schedule_steps"] == 20
    for optimizer in checkpoint["optimizer_states"]:  # G's and D's
        assert optimizer["param_groups"][0]["lr"] == pytest.approx(lrs[-1][1], rel=1e-5)
    hparams = yaml.safe_load((run / "tensorboard" / "hparams.yaml").read_text())
    assert hparams["schedule"]["lr"] == "cosine" and hparams["schedule"]["final"]["lr"] == 0.0
    assert "Schedule: lr follows a cosine over 20 generator steps" in (run / "train.log").read_text()


def test_every_schedule_is_the_same_at_every_step_across_a_resume(tmp_path):
    """Stopped mid-epoch and resumed, a run has the uninterrupted run's scheduled values at every
    step, and ends with its weights and optimizer states bit for bit."""
    run_cli(*EVERY_KEY, "hydra.run.dir=whole", cwd=tmp_path)
    run_cli(*EVERY_KEY, "schedule.steps=30", "max_generator_steps=13", "hydra.run.dir=parts", cwd=tmp_path)
    run_cli(f"resume={tmp_path / 'parts'}", "max_generator_steps=30", cwd=tmp_path)
    whole, parts = (read_scalars(tmp_path / name / "tensorboard") for name in ("whole", "parts"))
    for tag in SCHEDULED:
        assert [s for s, _ in parts[tag]] == list(range(1, 31)), tag
        assert parts[tag] == whole[tag], tag
    # each value went from its start to R3GAN's final one
    starts = {"schedule/lr": 2e-4, "schedule/beta2": 0.999, "schedule/gamma_r1": 10.0, "schedule/augment_p": 0.0,
              "schedule/ema_half_life": 0.0}
    finals = {"schedule/lr": 5e-5, "schedule/beta2": 0.99, "schedule/gamma_r1": 0.005, "schedule/augment_p": 0.55,
              "schedule/ema_half_life": 5e6}
    for tag, start in starts.items():
        assert whole[tag][0][1] == pytest.approx(start, rel=1e-6)
        assert whole[tag][-1][1] == pytest.approx(cosine(29, 30, start, finals[tag]), rel=1e-5)
    assert_same_training_state(load(tmp_path / "whole"), load(tmp_path / "parts"))


def test_a_larger_budget_on_resume_keeps_the_schedule_it_started_with(tmp_path):
    run_cli(*DCGAN, "schedule.lr=cosine", "schedule.final.lr=1e-5", "trainer.max_epochs=1", "hydra.run.dir=run",
            cwd=tmp_path)
    run_cli(f"resume={tmp_path / 'run'}", "trainer.max_epochs=2", cwd=tmp_path)
    lrs = read_scalars(tmp_path / "run" / "tensorboard")["schedule/lr"]
    assert load(tmp_path / "run")["state_dict"]["_extra_state"]["schedule_steps"] == 10
    # the resumed run says the schedule it keeps, as the first part did
    assert (tmp_path / "run" / "train.log").read_text().count("Schedule: lr follows a cosine over 10 generator steps") == 2
    assert [step for step, _ in lrs] == list(range(1, 21))
    assert lrs[9][1] == pytest.approx(cosine(9, 10, 2e-4, 1e-5), rel=1e-5)
    assert all(v == pytest.approx(1e-5) for _, v in lrs[10:])  # final after its 10 steps


def test_scheduled_values_act_where_they_say():
    # gamma: each penalty's weight follows its scheduled gamma (gamma / 2 for R1)
    model = RpGAN(image_shape=(1, 28, 28), net=MLP, reg={"r1": {"gamma": 10.0}})
    real, fake = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    unscheduled = model.penalty(real, fake)
    model._scheduled = {"gamma_r1": 2.0}
    assert model.penalty(real, fake).item() == pytest.approx(unscheduled.item() * 2.0 / 10.0, rel=1e-5)
    # augment.p: each transform reaches about p of the images; p = 0 leaves them alone
    images = torch.ones(2000, 1, 8, 8)
    changed = lambda p: (DiffAugment(["cutout"], p=p)(images) != images).flatten(1).any(1).float().mean().item()  # noqa: E731
    assert changed(0.0) == 0.0 and changed(1.0) == 1.0 and 0.45 < changed(0.5) < 0.55
    # the EMA's half-life in images: after that many images, the old weights weigh half; 0 follows G
    generator, _ = build_nets(MLP, (1, 28, 28), 8)
    ema = EMA(generator, None, lambda n: (torch.randn(n, 8), None), half_life=1000)
    before = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(1.0)
    ema.update(generator, 1, images=1000)
    for old, new, averaged in zip(before, generator.parameters(), ema.module.parameters()):
        assert torch.allclose(averaged, (old + new) / 2)
    ema.half_life = 0
    ema.update(generator, 2, images=32)
    assert all(torch.equal(a, g) for a, g in zip(ema.module.parameters(), generator.parameters()))


def test_the_r3gan_preset_trains_on_32_pixel_digits_with_its_schedules(tmp_path):
    run = tmp_path / "run"
    run_cli("model=r3gan", "net.g_widths=[8,8,8,8]", "net.d_widths=[8,8,8,8]", "net.cardinality=2",
            "data.batch_size=8", "trainer.limit_train_batches=4", "trainer.max_epochs=1", "conditional=true", *QUIET,
            f"hydra.run.dir={run}", cwd=tmp_path)
    checkpoint = load(run)
    hparams = checkpoint["hyper_parameters"]
    assert list(hparams["image_shape"]) == [1, 32, 32] and hparams["net"]["name"] == "r3gan"
    assert hparams["loss"] == "relativistic" and set(hparams["reg"]) >= {"r1", "r2"}
    assert all(hparams["schedule"][key] == "cosine" for key in ("lr", "beta2", "gamma", "augment_p", "ema_half_life"))
    scalars = read_scalars(run / "tensorboard")
    assert set(SCHEDULED) <= set(scalars)
    assert scalars["schedule/lr"][0][1] == pytest.approx(4e-3) and scalars["schedule/beta2"][0][1] == pytest.approx(0.9)
    assert any(key.startswith("generator_ema.") for key in checkpoint["state_dict"])  # its EMA is on


def test_the_r3gan_cifar10_experiment_is_the_paper_s_setting(tmp_path):
    config = yaml.safe_load(run_cli("experiment=r3gan_cifar10", "--cfg", "job", cwd=tmp_path).stdout)
    assert config["data"]["_target_"].endswith("CIFAR10DataModule") and config["data"]["batch_size"] == 512
    assert config["conditional"] is True and config["model"]["latent_dim"] == 64
    net = config["net"]
    assert (net["g_features"], net["d_features"], net["g_widths"], net["blocks"], net["cardinality"]) == (
        768, 768, None, 2, 96)
    assert config["reg"]["r1"] == config["reg"]["r2"] == {"gamma": 0.05, "every": 1}
    assert (config["model"]["lr"], config["model"]["beta2"], config["augment"]["p"], config["model"]["ema_half_life"]) == (
        2e-4, 0.9, 0.0, 0)
    assert config["schedule"]["final"] == {"lr": 5e-5, "beta2": 0.99, "gamma": 0.005, "augment_p": 0.55,
                                           "ema_half_life": 5000000}
    # the parameter counts the README prints beside those of R3GAN's released code
    generator, discriminator = build_nets(net, (3, 32, 32), 64, "none", num_classes=10)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert (count(generator), count(discriminator)) == (20_781_952, 20_691_456)


def test_a_scheduled_run_without_a_step_budget_in_python_is_one_sentence():
    model = RpGAN(image_shape=(1, 28, 28), net=MLP, schedule={"lr": "cosine", "final": {"lr": 0.0}})
    with pytest.raises(ConfigError, match="set schedule.steps=N"):
        fit(model, batches=2, max_epochs=-1, max_time="00:00:00:30", datamodule=RandomImages(n=16))
