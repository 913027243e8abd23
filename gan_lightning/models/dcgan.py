"""DCGAN (Radford et al. 2015): the GAN losses on the conv nets of nets/dcgan.py.

Its own ideas are architectural (strided convs, BatchNorm, N(0, 0.02) init, Adam 2e-4 with
beta1 0.5), so they live in the nets and in conf/model/dcgan.yaml; the losses are GAN's.
"""

from gan_lightning.models.gan import GAN


class DCGAN(GAN):
    preset = "dcgan"
