"""RpGAN with R1 + R2, the objective of R3GAN (Huang et al., NeurIPS 2024, "The GAN is dead;
long live the GAN!"): a relativistic pairing loss, zero-centred penalties on real and fake
images, Adam with beta1 0 and beta2 0.99, no normalisation in D. R3GAN's ResNet architecture
is not taken: this preset runs on the project's nets (net=dcgan by default).
"""

from gan_lightning.models.base import GANModule


class RpGAN(GANModule):
    critic_norm = "none"

    def __init__(self, *args, loss: str = "relativistic", reg=None, beta1: float = 0.0, beta2: float = 0.99,
                 **kwargs):
        if reg is None:
            reg = {"r1": {"gamma": 10.0}, "r2": {"gamma": 10.0}}
        super().__init__(*args, loss=loss, reg=reg, beta1=beta1, beta2=beta2, **kwargs)
