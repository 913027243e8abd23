"""One LightningModule per GAN variant; the shared loop is in base.py."""

from gan_lightning.models.base import GANModule
from gan_lightning.models.dcgan import DCGAN
from gan_lightning.models.feature_matching import FeatureMatchingGAN
from gan_lightning.models.gan import GAN
from gan_lightning.models.rpgan import RpGAN
from gan_lightning.models.wgan import WGAN
from gan_lightning.models.wgan_gp import WGANGP

__all__ = ["GANModule", "GAN", "DCGAN", "WGAN", "WGANGP", "RpGAN", "FeatureMatchingGAN"]
