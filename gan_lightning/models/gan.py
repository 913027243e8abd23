"""Vanilla GAN (Goodfellow et al. 2014): BCE on logits, non-saturating generator loss.

The preset (conf/model/gan.yaml: loss=bce, reg=none, Adam 2e-4, the MLP nets) is the base
loop's own, so the class adds nothing.
"""

from gan_lightning.models.base import GANModule


class GAN(GANModule):
    preset = "gan"
