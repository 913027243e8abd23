"""Adversarial losses as pure functions of D's scores: the `loss` config group.

Discriminators in this project return one raw score per image; no network ends in a Sigmoid.
Each loss is a pair (critic loss, generator loss) registered in LOSSES under its config name,
with what its scores mean for monitoring: D(x) and D(G(z)) as probabilities (BCE) or raw
scores (the others), and which divergence the critic estimates (train/divergence).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


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


def hinge_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; SNGAN, BigGAN)."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


# G's side of the hinge loss is the Wasserstein one, -E[D(G(z))] (Lim & Ye 2017).
hinge_generator_loss = wasserstein_generator_loss


def least_squares_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """LSGAN (Mao et al. 2017, targets a=0, b=1): (E[(D(x) - 1)^2] + E[D(G(z))^2]) / 2."""
    return ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean()) / 2


def least_squares_generator_loss(fake_scores: Tensor) -> Tensor:
    """LSGAN's G (target c=1): E[(D(G(z)) - 1)^2] / 2."""
    return (fake_scores - 1).pow(2).mean() / 2


def relativistic_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """RpGAN (Jolicoeur-Martineau 2019; R3GAN): E[softplus(-(D(x) - D(G(z))))] over real-fake pairs."""
    return F.softplus(fake_scores - real_scores).mean()


def relativistic_generator_loss(fake_scores: Tensor, real_scores: Tensor) -> Tensor:
    """G's side of the pairing: E[softplus(-(D(G(z)) - D(x)))]; it needs D's scores on real images."""
    return F.softplus(real_scores - fake_scores).mean()


def jensen_shannon_estimate(real_scores: Tensor, fake_scores: Tensor, loss_d: Tensor) -> Tensor:
    """At the optimal D, the BCE critic loss is 2 log 2 - 2 JSD(data, G): the critic's JSD estimate."""
    return math.log(2) - loss_d / 2


def score_gap(real_scores: Tensor, fake_scores: Tensor, loss_d: Tensor) -> Tensor:
    """The gap between D's mean scores: for the Wasserstein loss, the critic's estimate of W1."""
    return real_scores.mean() - fake_scores.mean()


@dataclass(frozen=True)
class Loss:
    discriminator: Callable[[Tensor, Tensor], Tensor]  # (real scores, fake scores) -> critic loss
    generator: Callable[..., Tensor]  # (fake scores[, real scores]) -> generator loss
    # D's scores are logits of "real" (logged as probabilities) or unbounded values (logged raw).
    scores_are_logits: bool = False
    # The generator loss compares fakes with real images (relativistic), so it also takes real scores.
    pairs: bool = False
    # The critic's divergence estimate (train/divergence) from (real scores, fake scores, critic loss),
    # also logged under its own name when it has one (train/wasserstein).
    divergence: Callable[[Tensor, Tensor, Tensor], Tensor] = score_gap
    divergence_name: str | None = None
    # D's scores are centred on 0 (real above, fake below), so ADA's r_t = E[sign D(x)] reads them.
    centred: bool = False

    def monitor(self, real_scores: Tensor, fake_scores: Tensor, loss_d: Tensor) -> dict[str, Tensor]:
        """What a critic step shows in TensorBoard (train/<key>): D_x, D_G_z, divergence[, its name]."""
        to_shown = torch.sigmoid if self.scores_are_logits else (lambda scores: scores)
        scalars = {"D_x": to_shown(real_scores).mean(), "D_G_z": to_shown(fake_scores).mean(),
                   "divergence": self.divergence(real_scores, fake_scores, loss_d)}
        if self.divergence_name:
            scalars[self.divergence_name] = scalars["divergence"]
        return scalars


LOSSES = {
    "bce": Loss(bce_discriminator_loss, bce_generator_loss, scores_are_logits=True, divergence=jensen_shannon_estimate,
                centred=True),
    "wasserstein": Loss(wasserstein_critic_loss, wasserstein_generator_loss, divergence_name="wasserstein"),
    "hinge": Loss(hinge_discriminator_loss, hinge_generator_loss, centred=True),
    "least_squares": Loss(least_squares_discriminator_loss, least_squares_generator_loss),
    "relativistic": Loss(relativistic_discriminator_loss, relativistic_generator_loss, pairs=True),
}
