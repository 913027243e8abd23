"""The composable objective: losses, penalties, spectral norm, DiffAugment, presets, CLI."""

import math

import pytest
import torch
from torch import nn

from conftest import DCGAN_SMALL, MLP, fit, read_scalars, run_cli
from gan_lightning.models import GAN, WGAN, WGANGP, RpGAN
from gan_lightning.objective import losses, penalties
from gan_lightning.objective.augment import DiffAugment

SHAPE = [1, 28, 28]


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# ---- losses against hand computations --------------------------------------------------------

def test_hinge_loss_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    # D: mean(relu(1 - [2, .5])) + mean(relu(1 + [-2, .5])) = mean(0, .5) + mean(0, 1.5)
    assert losses.hinge_discriminator_loss(real, fake).item() == pytest.approx(0.25 + 0.75)
    assert losses.hinge_generator_loss(fake).item() == pytest.approx(0.75)


def test_least_squares_loss_by_hand():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    # D: (mean((real - 1)^2) + mean(fake^2)) / 2 = (0.5 + 0.5) / 2; G: mean((fake - 1)^2) / 2 = 0.5 / 2
    assert losses.least_squares_discriminator_loss(real, fake).item() == pytest.approx(0.5)
    assert losses.least_squares_generator_loss(fake).item() == pytest.approx(0.25)


def test_relativistic_loss_by_hand_pairs_real_with_fake():
    real, fake = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 2.0])
    # D: mean(softplus(-(real - fake))) over the pairs (3, 1) and (0, 2)
    assert losses.relativistic_discriminator_loss(real, fake).item() == pytest.approx(
        (softplus(-2.0) + softplus(2.0)) / 2)
    # G mirrors it: mean(softplus(-(fake - real)))
    assert losses.relativistic_generator_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])).item() == \
        pytest.approx((softplus(-1.0) + softplus(0.0)) / 2)


def test_the_loss_registry_names_and_what_each_loss_means():
    assert set(losses.LOSSES) == {"bce", "wasserstein", "hinge", "least_squares", "relativistic"}
    assert [name for name, loss in losses.LOSSES.items() if loss.scores_are_logits] == ["bce"]
    assert [name for name, loss in losses.LOSSES.items() if loss.pairs] == ["relativistic"]


# ---- penalties -----------------------------------------------------------------------------------

class QuarterSquare(nn.Module):
    """D(x) = c/2 * ||x||^2 per image, so grad D(x) = c * x and ||grad||^2 = c^2 ||x||^2."""

    def __init__(self, c: float):
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return self.c / 2 * x.flatten(1).pow(2).sum(1)


def test_r1_and_r2_by_hand():
    critic = QuarterSquare(3.0)
    real = torch.tensor([[[[1.0, 2.0]]], [[[0.0, 1.0]]]])  # ||x||^2 = 5, 1
    fake = torch.tensor([[[[2.0, 2.0]]], [[[1.0, 0.0]]]])  # ||x||^2 = 8, 1
    assert penalties.r1_penalty(critic, real, fake).item() == pytest.approx(9 * (5 + 1) / 2)
    assert penalties.r2_penalty(critic, real, fake).item() == pytest.approx(9 * (8 + 1) / 2)
    # each is a function of its own side only
    assert penalties.r1_penalty(critic, real, torch.zeros_like(fake)).item() == pytest.approx(27.0)
    assert penalties.r2_penalty(critic, torch.zeros_like(real), fake).item() == pytest.approx(40.5)


def test_r2_regularises_d_only():
    model = GAN(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8, reg={"r2": {"gamma": 10.0}})
    fake = model.generator(model.noise(4))  # still attached to G's graph
    penalty = model.penalty(torch.rand(4, *SHAPE) * 2 - 1, fake)
    g_grads = torch.autograd.grad(penalty, list(model.generator.parameters()), allow_unused=True)
    assert all(g is None for g in g_grads)
    penalty = model.penalty(torch.rand(4, *SHAPE) * 2 - 1, model.generator(model.noise(4)))
    d_grads = torch.autograd.grad(penalty, list(model.discriminator.parameters()), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in d_grads)


@pytest.mark.parametrize("function", [penalties.r1_penalty, penalties.r2_penalty])
def test_zero_centred_penalties_under_amp_match_fp32(function):
    critic = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 4 * 4, 1))
    real, fake = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    plain = function(critic, real, fake)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    with torch.autocast("cpu", dtype=torch.float16):
        mixed = function(critic, real, fake, scaler=scaler)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed)
    assert mixed.item() == pytest.approx(plain.item(), rel=2e-2)
    g_plain = torch.autograd.grad(plain, critic[0].weight)[0]
    g_mixed = torch.autograd.grad(mixed, critic[0].weight)[0]
    assert torch.allclose(g_plain, g_mixed.float(), rtol=5e-2, atol=1e-3 * g_plain.abs().max().item())


def test_lazy_regularisation_runs_every_k_critic_steps_with_k_times_the_weight(monkeypatch):
    calls = []
    real_r1 = penalties.PENALTIES["r1"][0]
    monkeypatch.setitem(penalties.PENALTIES, "r1", (lambda *a, **k: calls.append(1) or real_r1(*a, **k), 0.5))
    model = GAN(image_shape=SHAPE, net=MLP, latent_dim=8, reg={"r1": {"gamma": 2.0, "every": 3}})
    assert [(p.name, p.weight, p.every) for p in model.objective.penalties] == [("r1", 0.5 * 2.0 * 3, 3)]
    fit(model, batches=7)
    assert len(calls) == 3  # critic steps 0, 3 and 6


def test_a_per_sample_penalty_gets_a_per_sample_critic_norm():
    norms = lambda m: {type(layer).__name__ for layer in m.discriminator.modules()  # noqa: E731
                       if isinstance(layer, (nn.BatchNorm2d, nn.GroupNorm))}
    assert norms(GAN(image_shape=SHAPE, net=DCGAN_SMALL)) == {"BatchNorm2d"}
    assert norms(GAN(image_shape=SHAPE, net=DCGAN_SMALL, reg={"r1": {}})) == {"GroupNorm"}
    assert norms(RpGAN(image_shape=SHAPE, net=DCGAN_SMALL)) == set()  # R3GAN: no normalisation in D


def test_the_seed_presets_are_their_objectives():
    wgan, gp = WGAN(image_shape=SHAPE, net=MLP), WGANGP(image_shape=SHAPE, net=MLP)
    assert (wgan.objective.name, wgan.objective.clip, wgan.objective.penalties) == ("wasserstein", 0.01, [])
    assert (gp.objective.name, [(p.name, p.weight) for p in gp.objective.penalties]) == ("wasserstein", [("gp", 10.0)])
    assert GAN(image_shape=SHAPE, net=MLP).objective.name == "bce"
    rp = RpGAN(image_shape=SHAPE, net=MLP)
    assert rp.objective.name == "relativistic" and [p.name for p in rp.objective.penalties] == ["r1", "r2"]
    assert (rp.hparams.beta1, rp.hparams.beta2) == (0.0, 0.99)


# ---- spectral norm -----------------------------------------------------------------------------

@pytest.mark.parametrize("net", [DCGAN_SMALL, MLP])
def test_spectral_norm_keeps_every_d_weight_at_singular_value_one(net):
    def top_singular_values(model):
        return [torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
                for layer in model.discriminator.modules() if isinstance(layer, (nn.Conv2d, nn.Linear))]

    model = GAN(image_shape=SHAPE, net={**net, "spectral_norm": True}, latent_dim=8, loss="hinge")
    fit(model, batches=5)
    values = top_singular_values(model)
    assert len(values) >= 2 and all(v == pytest.approx(1.0, abs=0.05) for v in values), values
    plain = GAN(image_shape=SHAPE, net=net, latent_dim=8, loss="hinge")
    assert not all(v == pytest.approx(1.0, abs=0.05) for v in top_singular_values(plain))


# ---- DiffAugment --------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["color", "translation", "cutout"])
def test_each_policy_word_changes_images_differently_per_image(word):
    images = torch.rand(1, 3, 16, 16).mul(2).sub(1).expand(8, -1, -1, -1).contiguous()  # 8 copies of one image
    out = DiffAugment(word)(images)
    assert out.shape == images.shape
    assert not torch.equal(out, images)
    assert len({tuple(image.flatten().tolist()) for image in out}) > 1  # not one transform for the batch


def test_diffaugment_lets_gradients_reach_g_and_runs_before_every_d_call():
    model = GAN(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8, augment={"name": "diffaugment"})
    fake = model.generator(model.noise(4))
    loss = model.critic(fake).sum()
    grads = torch.autograd.grad(loss, list(model.generator.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)

    calls = []
    model.augment.register_forward_hook(lambda *args: calls.append(1))
    fit(model, batches=3)
    assert len(calls) == 3 * 2 + 3 * 1  # real and fake in each critic step, fake in each G step


# ---- from the command line -------------------------------------------------------------------------

TINY = ("net.g_features=8", "net.d_features=8", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
        "callbacks.metrics=null", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1")


def test_every_loss_with_and_without_r1_trains_from_the_cli(tmp_path):
    proc = run_cli("-m", "model=dcgan", "loss=bce,wasserstein,hinge,least_squares,relativistic", "reg=none,r1",
                   *TINY, "hydra.sweep.dir=sweep", cwd=tmp_path)
    seen = set()
    for run in sorted((tmp_path / "sweep").iterdir()):
        if not (run / ".hydra").is_dir():
            continue
        hparams = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
        loss, reg = hparams["loss"], "r1" if "r1" in hparams["reg"] else "none"
        seen.add((loss, reg))
        scalars = read_scalars(run / "tensorboard")
        assert [step for step, _ in scalars["train/loss_d"]] == [1, 2, 3]
        assert all(math.isfinite(v) for _, v in scalars["train/loss_g"])
        assert ("train/r1" in scalars) == (reg == "r1")
        assert ("train/wasserstein" in scalars) == (loss == "wasserstein")
        if loss == "bce":  # a probability only where D is a classifier
            assert all(0 <= v <= 1 for _, v in scalars["train/D_x"])
        unwise = "leaves the critic unconstrained" in (run / "train.log").read_text()
        assert unwise == (loss == "wasserstein" and reg == "none")
    assert seen == {(loss, reg) for loss in losses.LOSSES for reg in ("none", "r1")}
    assert (proc.stdout + proc.stderr).count("leaves the critic unconstrained") == 1  # warned once


def test_rpgan_trains_from_the_cli_with_both_penalties(tmp_path):
    run_cli("model=rpgan", "augment=diffaugment", "net.spectral_norm=true", *TINY, "hydra.run.dir=run", cwd=tmp_path)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    assert {"train/r1", "train/r2"} <= set(scalars)
    assert all(math.isfinite(v) for _, v in scalars["train/loss_d"])
    hparams = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert hparams["loss"] == "relativistic" and set(hparams["reg"]) >= {"r1", "r2"}
    assert hparams["augment"]["name"] == "diffaugment" and hparams["net"]["spectral_norm"] is True


def test_fp16_mixed_training_with_r1_and_r2_stays_finite_and_trains_g():
    from lightning.pytorch.plugins import MixedPrecision

    model = RpGAN(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    trainer = fit(model, batches=4, plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)], log_every_n_steps=1)
    assert model.generator_steps >= 1
    assert all(torch.isfinite(trainer.callback_metrics[f"train/{name}"]) for name in ("r1", "r2"))
    assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items())


@pytest.mark.parametrize("model, loss, regs", [
    ("gan", "bce", set()), ("dcgan", "bce", set()), ("wgan", "wasserstein", {"clip"}),
    ("wgan_gp", "wasserstein", {"gp"}), ("rpgan", "relativistic", {"r1", "r2"}), ("quickstart", "bce", set()),
])
def test_each_model_config_names_its_objective(model, loss, regs):
    from hydra import compose, initialize_config_module

    with initialize_config_module("gan_lightning.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}", "loss=hinge"] if model == "gan" else [f"model={model}"])
        default = compose("config")
    assert cfg.loss.name == ("hinge" if model == "gan" else loss)  # the command line wins over the preset
    assert {name for name, value in cfg.reg.items() if hasattr(value, "items")} == regs
    if model == "gan":  # a seed variant keeps the seed's settings, not the front door's
        assert (cfg.net.name, cfg.model.lr, cfg.data.batch_size, cfg.trainer.max_epochs) == ("mlp", 2e-4, 64, 40)
    assert default.model._target_.endswith("DCGAN") and default.net.g_features == 32 and default.model.lr == 4e-3
    assert (default.data.image_size, default.trainer.max_epochs) == (32, 6)  # the front door's padded digits
