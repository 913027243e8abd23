"""WGAN-GP (Gulrajani et al. 2017): Wasserstein critic with a gradient penalty (lambda 10).

Preset: loss=wasserstein, reg=gp; Adam(1e-4, betas 0, 0.9) and 5 critic steps in
conf/model/wgan_gp.yaml. The penalty is per-sample, so a conv critic has no BatchNorm.
"""

from gan_lightning.models.base import GANModule


class WGANGP(GANModule):
    critic_norm = "layer"

    def __init__(self, *args, gp_weight: float = 10.0, loss: str = "wasserstein", reg=None, **kwargs):
        # gp_weight is the older spelling of reg={"gp": {"gamma": ...}} (older checkpoints
        # carry it); a given `reg` wins.
        if reg is None:
            reg = {"gp": {"gamma": gp_weight}}
        super().__init__(*args, loss=loss, reg=reg, **kwargs)
