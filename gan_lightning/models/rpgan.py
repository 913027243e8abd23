"""RpGAN with R1 + R2, the objective of R3GAN (Huang et al., NeurIPS 2024, "The GAN is dead;
long live the GAN!"): a relativistic pairing loss, zero-centred penalties on real and fake
images, Adam with beta1 0 and beta2 0.99 (conf/model/rpgan.yaml), no normalisation in D.
R3GAN's ResNet architecture is not taken: this preset runs on the project's nets.
"""

from gan_lightning.models.base import GANModule


class RpGAN(GANModule):
    preset = "rpgan"
    critic_norm = "none"
