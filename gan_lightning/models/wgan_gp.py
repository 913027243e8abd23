"""WGAN-GP (Gulrajani et al. 2017): a Wasserstein critic with a gradient penalty (lambda 10).

The preset is conf/model/wgan_gp.yaml: loss=wasserstein, reg=gp, Adam(1e-4, betas 0, 0.9),
5 critic steps per G step. The penalty is per-sample, so a conv critic has no BatchNorm.
"""

from gan_lightning.models.base import GANModule


class WGANGP(GANModule):
    preset = "wgan_gp"
    critic_norm = "layer"
