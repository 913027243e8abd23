"""Fully connected G and D, as in the vanilla-GAN and WGAN seeds."""

import math
from collections.abc import Sequence

from torch import Tensor, nn


class MLPGenerator(nn.Module):
    """z -> hidden layers (LeakyReLU, optional BatchNorm) -> Tanh image of `image_shape`.

    BatchNorm in G is what keeps the seeds' MLP GAN from collapsing on small data.
    """

    def __init__(self, latent_dim: int, image_shape: Sequence[int],
                 hidden: Sequence[int] = (256, 512, 1024), batchnorm: bool = True):
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batchnorm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width = size
        layers += [nn.Linear(width, math.prod(self.image_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(nn.Module):
    """Image -> hidden layers (LeakyReLU) = features -> one raw score per image (no Sigmoid)."""

    def __init__(self, image_shape: Sequence[int], hidden: Sequence[int] = (512, 256)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(image_shape)
        for size in hidden:
            layers += [nn.Linear(width, size), nn.LeakyReLU(0.2, inplace=True)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.feature_dim = width  # of features(x), which the last layer (head) scores

    @property
    def head(self) -> nn.Module:
        return self.net[-1]

    def features(self, x: Tensor) -> Tensor:
        return self.net[:-1](x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).view(-1)


Generator, Discriminator = MLPGenerator, MLPDiscriminator  # the names build_nets looks for
