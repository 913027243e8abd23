"""Vanilla GAN (Goodfellow et al. 2014): BCE on logits, non-saturating generator loss.

The base loop's defaults are this preset (loss=bce, reg=none), so the class adds nothing.
"""

from gan_lightning.models.base import GANModule


class GAN(GANModule):
    pass
