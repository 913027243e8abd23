"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with a gradient penalty.

The penalty is per-sample, so the critic must not use BatchNorm: conv critics get a
per-sample (layer) normalisation instead.
"""

from gan_lightning import losses
from gan_lightning.errors import ConfigError
from gan_lightning.models.base import GANModule


class WGANGP(GANModule):
    scores_are_logits = False
    critic_norm = "layer"

    def __init__(self, *args, gp_weight: float = 10.0, **kwargs):
        if not gp_weight >= 0:
            raise ConfigError(f"model.gp_weight={gp_weight} must be non-negative.")
        super().__init__(*args, **kwargs)
        self.penalty_weight = gp_weight

    def discriminator_loss(self, real_scores, fake_scores):
        return losses.wasserstein_critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return losses.wasserstein_generator_loss(fake_scores)

    def penalty(self, real, fake):
        return losses.gradient_penalty(self.discriminator, real, fake, scaler=self.grad_scaler)
