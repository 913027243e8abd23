"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with a gradient penalty (lambda 10).

Preset: loss=wasserstein, reg=gp; Adam(1e-4, betas 0, 0.9) and 5 critic steps in
conf/model/wgan_gp.yaml. The penalty is per-sample, so a conv critic has no BatchNorm.
"""

from gan_lightning.errors import ConfigError
from gan_lightning.models.base import GANModule


class WGANGP(GANModule):
    critic_norm = "layer"

    def __init__(self, *args, gp_weight: float | None = None, loss: str = "wasserstein", reg=None, **kwargs):
        # gp_weight: the pre-`reg` spelling, still taken from Python and from older checkpoints.
        if gp_weight is not None and reg is not None:
            raise ConfigError("Give WGANGP either gp_weight or reg={'gp': {'gamma': ...}}, not both.")
        if reg is None:
            reg = {"gp": {"gamma": 10.0 if gp_weight is None else gp_weight}}
        super().__init__(*args, loss=loss, reg=reg, **kwargs)
