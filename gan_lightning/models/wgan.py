"""WGAN (Arjovsky et al. 2017): Wasserstein critic kept Lipschitz by weight clipping.

Preset: loss=wasserstein, reg=clip (0.01); RMSprop(5e-5) and 5 critic steps in conf/model/wgan.yaml.
"""

from gan_lightning.models.base import GANModule


class WGAN(GANModule):
    def __init__(self, *args, clip_value: float = 0.01, loss: str = "wasserstein", reg=None, **kwargs):
        # clip_value is the older spelling of reg={"clip": {"value": ...}} (older checkpoints
        # carry it); a given `reg` wins.
        if reg is None:
            reg = {"clip": {"value": clip_value}}
        super().__init__(*args, loss=loss, reg=reg, **kwargs)
