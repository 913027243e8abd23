import copy

import pytest
import torch

from conftest import DCGAN_SMALL, MLP, RandomImages, fit
from gan_lightning.callbacks import GeneratorStepBudget
from gan_lightning.errors import ConfigError
from gan_lightning.models import DCGAN, GAN, WGAN, WGANGP, GANModule

SHAPE = [1, 28, 28]


def _adam_steps(optimizer) -> set[int]:
    return {int(state["step"]) for state in optimizer.state.values()}


def test_n_critic_counts_critic_steps_on_separate_batches():
    model = WGANGP(image_shape=SHAPE, net=MLP, latent_dim=8, n_critic=5)
    seen = []
    original = model.discriminator_loss

    def spy(real_scores, fake_scores):
        seen.append(real_scores.detach().clone())
        return original(real_scores, fake_scores)

    model.discriminator_loss = spy
    trainer = fit(model, batches=12)
    opt_g, opt_d = (o.optimizer for o in model.optimizers())
    assert (model.critic_steps, model.generator_steps) == (12, 2)
    assert _adam_steps(opt_d) == {12} and _adam_steps(opt_g) == {2}
    # every critic step scored a different batch of real images
    assert len(seen) == 12 and all(not torch.equal(a, b) for a, b in zip(seen, seen[1:]))
    # the known trap: Lightning's global_step counts both nets' optimizer steps
    assert trainer.global_step == 14


def test_generator_does_not_move_before_the_n_critic_th_batch():
    model = WGAN(image_shape=SHAPE, net=MLP, latent_dim=8, n_critic=5)
    before = copy.deepcopy(dict(model.generator.named_parameters()))
    fit(model, batches=4)
    assert model.generator_steps == 0
    assert all(torch.equal(before[k], v) for k, v in model.generator.named_parameters())
    fit(model, batches=1)  # the fifth critic step (counted across fits and epochs) brings the G step
    assert model.generator_steps == 1
    assert any(not torch.equal(before[k], v) for k, v in model.generator.named_parameters())


def test_wgan_clips_every_critic_weight_after_each_critic_step():
    model = WGAN(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8, reg={"clip": {"value": 0.01}}, n_critic=5)
    fit(model, batches=3)
    params = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert params.abs().max().item() <= 0.01
    assert (params.abs() == 0.01).any()  # the clip was active, not vacuous


@pytest.mark.parametrize("cls", [GAN, DCGAN, WGAN, WGANGP])
def test_generator_step_budget_means_generator_steps(cls):
    model = cls(image_shape=SHAPE, net=MLP, latent_dim=8, n_critic=3)
    fit(model, batches=100, max_epochs=10, callbacks=[GeneratorStepBudget(4)])
    assert model.generator_steps == 4
    assert model.critic_steps == 12


def test_bad_hyperparameters_are_named():
    with pytest.raises(ConfigError, match="model.optimizer='sgd'"):
        GAN(image_shape=SHAPE, net=MLP, optimizer="sgd")
    with pytest.raises(ConfigError, match="model.n_critic=0"):
        WGAN(image_shape=SHAPE, net=MLP, n_critic=0)
    with pytest.raises(ConfigError, match="model.beta1=1.5"):
        GAN(image_shape=SHAPE, net=MLP, beta1=1.5)
    with pytest.raises(ConfigError, match="max_generator_steps=0"):
        GeneratorStepBudget(0)


def test_optimizers_follow_the_variant_config():
    wgan = WGAN(image_shape=SHAPE, net=MLP, optimizer="rmsprop", lr=5e-5)
    gp = WGANGP(image_shape=SHAPE, net=MLP, lr=1e-4, beta1=0.0, beta2=0.9)
    opt_g, opt_d = wgan.configure_optimizers()
    assert isinstance(opt_d, torch.optim.RMSprop) and opt_d.defaults["lr"] == 5e-5
    opt_g, opt_d = gp.configure_optimizers()
    assert isinstance(opt_g, torch.optim.Adam) and opt_g.defaults["betas"] == (0.0, 0.9)


@pytest.mark.parametrize("cls", [GAN, WGANGP])
def test_checkpoint_loads_without_hydra_and_samples(tmp_path, cls):
    model = cls(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8, n_critic=2)
    trainer = fit(model, batches=6)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)

    loaded = cls.load_from_checkpoint(path, weights_only=True)
    assert (loaded.critic_steps, loaded.generator_steps) == (6, 3)
    assert torch.equal(loaded.fixed_noise, model.fixed_noise)
    images = loaded.sample(10)
    assert images.shape == (10, *SHAPE) and images.device == loaded.device
    assert images.min() >= -1 and images.max() <= 1
    assert loaded.generator.training  # sample() restores the mode it found
    with pytest.raises(ValueError, match="positive n"):
        loaded.sample(0)


def test_resuming_continues_counters_and_optimizer_state(tmp_path):
    model = WGANGP(image_shape=SHAPE, net=MLP, latent_dim=8, n_critic=2)
    trainer = fit(model, batches=6, max_epochs=1)
    trainer.save_checkpoint(tmp_path / "last.ckpt")

    resumed = WGANGP(image_shape=SHAPE, net=MLP, latent_dim=8, n_critic=2)
    import lightning as L
    trainer2 = L.Trainer(accelerator="cpu", max_epochs=2, limit_train_batches=6, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer2.fit(resumed, datamodule=RandomImages(n=64), ckpt_path=tmp_path / "last.ckpt")
    assert (resumed.critic_steps, resumed.generator_steps) == (12, 6)
    opt_g, opt_d = (o.optimizer for o in resumed.optimizers())
    assert _adam_steps(opt_d) == {12} and _adam_steps(opt_g) == {6}


def test_training_moves_both_nets_and_the_losses():
    model = DCGAN(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8)
    g0, d0 = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator)
    fit(model, batches=5)
    for before, after in ((g0, model.generator), (d0, model.discriminator)):
        assert any(not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters()))


def test_same_seed_same_run():
    import lightning as L

    def run():
        L.seed_everything(7)
        model = GAN(image_shape=SHAPE, net=MLP, latent_dim=8)
        fit(model, batches=4)
        return model.generator.state_dict()

    first, second = run(), run()
    assert all(torch.equal(first[k], second[k]) for k in first)


class HookLSGAN(GANModule):
    """A variant that computes its loss in the hooks (as the docs show)."""

    own_loss = "least_squares"

    def discriminator_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores ** 2).mean()

    def generator_loss(self, fake_scores, real_scores=None):
        return 0.5 * ((fake_scores - 1) ** 2).mean()


def test_a_variant_with_its_own_loss_records_it_and_refuses_another():
    model = HookLSGAN(image_shape=SHAPE, net=MLP, latent_dim=8, loss="least_squares")
    fit(model, batches=2)
    assert model.hparams.loss == "least_squares" and model.generator_steps == 2
    with pytest.raises(ConfigError, match=r"HookLSGAN computes its own loss \(least_squares\) in discriminator_loss "
                                          r"and generator_loss, so loss=hinge would not be what trains"):
        HookLSGAN(image_shape=SHAPE, net=MLP, loss="hinge")

    class Unnamed(GANModule):
        def generator_loss(self, fake_scores, real_scores=None):
            return -fake_scores.mean()

    with pytest.raises(ConfigError, match="Unnamed overrides generator_loss: name the loss they compute"):
        Unnamed(image_shape=SHAPE, net=MLP)
