"""WGAN-GP (Gulrajani et al. 2017): a Wasserstein critic with a gradient penalty (lambda 10).

The preset is conf/model/wgan_gp.yaml: loss=wasserstein, reg=gp, Adam(1e-4, betas 0, 0.9),
5 critic steps per G step. The penalty is per-sample, so a conv critic has no BatchNorm.
"""

from gan_lightning.models.base import GANModule


class WGANGP(GANModule):
    preset = "wgan_gp"
    critic_norm = "layer"

    def __init__(self, *args, gp_weight: float | None = None, reg=None, **kwargs):
        # gp_weight is the older spelling of reg={"gp": {"gamma": ...}}, which older
        # checkpoints carry; a given `reg` wins.
        if reg is None and gp_weight is not None:
            reg = {"gp": {"gamma": gp_weight}}
        super().__init__(*args, reg=reg, **kwargs)
