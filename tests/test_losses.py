import math

import pytest
import torch
from torch import nn

from gan_lightning.objective import losses, penalties


def test_bce_losses_at_an_undecided_discriminator():
    zeros = torch.zeros(7)  # logit 0 = probability 1/2 for every image
    assert losses.bce_discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert losses.bce_generator_loss(zeros).item() == pytest.approx(math.log(2))


def test_bce_losses_reward_the_right_side():
    sure_real, sure_fake = torch.full((4,), 20.0), torch.full((4,), -20.0)
    assert losses.bce_discriminator_loss(sure_real, sure_fake).item() < 1e-6
    # Non-saturating G loss is large (strong gradient) exactly when D rejects the fakes.
    assert losses.bce_generator_loss(sure_fake).item() == pytest.approx(20.0, rel=1e-3)


def test_wasserstein_losses():
    real, fake = torch.tensor([3.0, 5.0]), torch.tensor([1.0, -1.0])
    assert losses.wasserstein_critic_loss(real, fake).item() == pytest.approx(0.0 - 4.0)
    assert losses.wasserstein_generator_loss(fake).item() == pytest.approx(0.0)


def test_gradient_penalty_of_a_linear_critic_is_the_weight_norm_gap():
    # C(x) = w . x has gradient w everywhere, so the penalty is (||w|| - 1)^2 for any interpolate.
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    with torch.no_grad():
        critic[1].weight.copy_(torch.arange(12.0).view(1, 12) / 10)
    w_norm = critic[1].weight.norm().item()
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    gp = penalties.gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx((w_norm - 1) ** 2, rel=1e-5)


def test_gradient_penalty_per_sample_norms_by_hand():
    # C(x) = sum(x^2) / 2 has gradient x; with real == fake every interpolate is the sample itself.
    class HalfSquare(nn.Module):
        def forward(self, x):
            return 0.5 * x.pow(2).flatten(1).sum(1)

    x = torch.tensor([[3.0, 4.0], [0.0, 0.5], [1.0, 0.0]])
    expected = ((5.0 - 1) ** 2 + (0.5 - 1) ** 2 + (1.0 - 1) ** 2) / 3
    assert penalties.gradient_penalty(HalfSquare(), x, x.clone()).item() == pytest.approx(expected)


def test_gradient_penalty_trains_the_critic():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(8, 1))
    gp = penalties.gradient_penalty(critic, torch.randn(4, 8), torch.randn(4, 8))
    gp.backward()  # needs create_graph=True inside: the penalty is a function of the weights
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


class FakeScaler:
    """What torch.amp.GradScaler.scale does to a tensor, with a large fixed scale."""

    def scale(self, tensor):
        return tensor * 65536.0


def test_gradient_penalty_under_a_scaled_loss_equals_the_unscaled_penalty():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(6, 3, 2, 2), torch.randn(6, 3, 2, 2)
    torch.manual_seed(3)
    plain = penalties.gradient_penalty(critic, real, fake)
    torch.manual_seed(3)  # same interpolates
    scaled = penalties.gradient_penalty(critic, real, fake, scaler=FakeScaler())
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-5)
    assert scaled.dtype == torch.float32
    # and its gradient w.r.t. the critic matches too
    g_plain = torch.autograd.grad(plain, critic[1].weight)[0]
    g_scaled = torch.autograd.grad(scaled, critic[1].weight)[0]
    assert torch.allclose(g_plain, g_scaled, rtol=1e-4, atol=1e-7)
