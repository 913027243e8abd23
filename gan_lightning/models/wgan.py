"""WGAN (Arjovsky et al. 2017): Wasserstein critic kept Lipschitz by weight clipping.

Preset: loss=wasserstein, reg=clip (0.01); RMSprop(5e-5) and 5 critic steps in conf/model/wgan.yaml.
"""

from gan_lightning.errors import ConfigError
from gan_lightning.models.base import GANModule


class WGAN(GANModule):
    def __init__(self, *args, clip_value: float | None = None, loss: str = "wasserstein", reg=None, **kwargs):
        # clip_value: the pre-`reg` spelling, still taken from Python and from older checkpoints.
        if clip_value is not None and reg is not None:
            raise ConfigError("Give WGAN either clip_value or reg={'clip': {'value': ...}}, not both.")
        if reg is None:
            reg = {"clip": {"value": 0.01 if clip_value is None else clip_value}}
        super().__init__(*args, loss=loss, reg=reg, **kwargs)
