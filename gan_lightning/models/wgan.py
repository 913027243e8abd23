"""WGAN (Arjovsky et al. 2017): Wasserstein critic kept Lipschitz by weight clipping."""

import torch

from gan_lightning import losses
from gan_lightning.errors import ConfigError
from gan_lightning.models.base import GANModule


class WGAN(GANModule):
    scores_are_logits = False

    def __init__(self, *args, clip_value: float = 0.01, **kwargs):
        if not clip_value > 0:
            raise ConfigError(f"model.clip_value={clip_value} must be positive.")
        super().__init__(*args, **kwargs)

    def discriminator_loss(self, real_scores, fake_scores):
        return losses.wasserstein_critic_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return losses.wasserstein_generator_loss(fake_scores)

    @torch.no_grad()
    def after_critic_step(self):
        clip = self.hparams.clip_value
        for param in self.discriminator.parameters():
            param.clamp_(-clip, clip)
