"""WGAN (Arjovsky et al. 2017): a Wasserstein critic kept Lipschitz by weight clipping.

The preset is conf/model/wgan.yaml: loss=wasserstein, reg=clip (0.01), RMSprop(5e-5), 5 critic
steps per G step.
"""

from gan_lightning.models.base import GANModule


class WGAN(GANModule):
    preset = "wgan"
