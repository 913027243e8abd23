"""WGAN (Arjovsky et al. 2017): a Wasserstein critic kept Lipschitz by weight clipping.

The preset is conf/model/wgan.yaml: loss=wasserstein, reg=clip (0.01), RMSprop(5e-5), 5 critic
steps per G step.
"""

from gan_lightning.models.base import GANModule


class WGAN(GANModule):
    preset = "wgan"

    def __init__(self, *args, clip_value: float | None = None, reg=None, **kwargs):
        # clip_value is the older spelling of reg={"clip": {"value": ...}}, which older
        # checkpoints carry; a given `reg` wins.
        if reg is None and clip_value is not None:
            reg = {"clip": {"value": clip_value}}
        super().__init__(*args, reg=reg, **kwargs)
