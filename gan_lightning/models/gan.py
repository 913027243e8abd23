"""Vanilla GAN (Goodfellow et al. 2014): BCE on logits, non-saturating generator loss."""

from gan_lightning import losses
from gan_lightning.models.base import GANModule


class GAN(GANModule):
    def discriminator_loss(self, real_scores, fake_scores):
        return losses.bce_discriminator_loss(real_scores, fake_scores)

    def generator_loss(self, fake_scores):
        return losses.bce_generator_loss(fake_scores)
