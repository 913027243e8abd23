"""Adversarial losses and the gradient penalty, as pure functions of critic scores.

Discriminators in this project return one raw score per image (a logit for BCE-type losses,
an unbounded critic value for Wasserstein losses); no network ends in a Sigmoid.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def bce_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))), computed from logits (stable, AMP-safe)."""
    real = F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores))
    fake = F.binary_cross_entropy_with_logits(fake_scores, torch.zeros_like(fake_scores))
    return real + fake


def bce_generator_loss(fake_scores: Tensor) -> Tensor:
    """Non-saturating G loss, -log D(G(z)) (Goodfellow et al. 2014, section 3)."""
    return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[C(G(z))] - E[C(x)]: minimising it maximises the critic's Wasserstein estimate."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, scaler=None, eps: float = 1e-12) -> Tensor:
    """E[(||grad C(x_hat)||_2 - 1)^2] on random interpolates x_hat (Gulrajani et al. 2017).

    `scaler` (a torch.amp.GradScaler, under precision=16-mixed): the critic's output is scaled
    before differentiating, so small fp16 gradients do not underflow, and the gradients are
    unscaled afterwards (the recipe in PyTorch's AMP docs). The norm is taken in fp32 with an
    epsilon, so it stays finite and differentiable where the gradient vanishes.
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    interpolates = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    output = critic(interpolates).sum()
    if scaler is None:
        (grads,) = torch.autograd.grad(output, interpolates, create_graph=True)
    else:
        scale = scaler.scale(torch.ones((), device=output.device))  # a tensor: no host sync
        (grads,) = torch.autograd.grad(output * scale, interpolates, create_graph=True)
        grads = grads.float() / scale
    norms = grads.float().flatten(1).pow(2).sum(1).add(eps).sqrt()
    return (norms - 1).pow(2).mean()
