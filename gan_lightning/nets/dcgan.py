"""DCGAN generator and discriminator (Radford et al. 2015; the PyTorch DCGAN tutorial).

The nets size themselves from the image: a square image of side s * 2**n (s in 4..7, n >= 1)
is made by one s x s conv-transpose from z followed by n stride-2 conv-transposes, and read
back by the mirror-image stack of convs. At 3x64x64 this is exactly the tutorial's
architecture (s=4, n=4: five layers each way, ngf*8 -> ... -> ngf channels); at 1x28x28 it
is the usual 7 -> 14 -> 28 MNIST DCGAN.
"""

from collections.abc import Sequence

from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets.norm import check_norm, critic_norm_layer

# Each doubling doubles the widest layer too: 6 (up to 256x256 from 4x4) keeps it at 64 x 2^6 maps.
MAX_DOUBLINGS = 6


def dcgan_layout(image_shape: Sequence[int]) -> tuple[int, int]:
    """(start size s, number of doublings n) with side = s * 2**n, or a ConfigError."""
    _, height, width = image_shape
    side, doublings = height, 0
    while side % 2 == 0 and side // 2 >= 4:
        side //= 2
        doublings += 1
    if height != width or not 4 <= side <= 7 or doublings < 1:
        raise ConfigError(
            f"The DCGAN nets cannot make {height}x{width} images: they make square images of side "
            f"s*2^n with s in 4..7 and n >= 1 (8, 16, 28, 32, 48, 56, 64, 96, 128, ...); "
            f"set data.image_size to one of those, or use model=gan (its MLP nets take any size)."
        )
    if doublings > MAX_DOUBLINGS:
        raise ConfigError(
            f"The DCGAN nets would need {doublings + 1} layers and {2 ** doublings} times net.g_features feature "
            f"maps to make {height}x{width} images, more than fit in memory: use data.image_size=256 or smaller "
            f"(a side s*2^n with n <= {MAX_DOUBLINGS})."
        )
    return side, doublings


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv weights and N(1, 0.02) BatchNorm scales, as in the DCGAN paper."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, image_shape: Sequence[int], features: int = 64):
        super().__init__()
        start, doublings = dcgan_layout(image_shape)
        width = features * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, start, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(doublings - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, image_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Strided convs with LeakyReLU(0.2); `norm` is the hidden layers' normalisation.

    The first layer has no normalisation (as in the paper); "none" gives the convs a bias.
    `features(x)` is the last hidden feature map; `head`, a conv over all of it, scores it.
    """

    def __init__(self, image_shape: Sequence[int], features: int = 64, norm: str = "batch"):
        super().__init__()
        check_norm(norm)
        start, doublings = dcgan_layout(image_shape)
        bias = norm == "none"
        layers: list[nn.Module] = [
            nn.Conv2d(image_shape[0], features, 4, 2, 1, bias=bias),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = features
        for _ in range(doublings - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=bias),
                critic_norm_layer(norm, width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, start, 1, 0, bias=bias))
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)
        self.feature_dim = width * start * start  # of features(x), flattened: the head reads all of it

    @property
    def head(self) -> nn.Module:
        return self.net[-1]

    def features(self, x: Tensor) -> Tensor:
        return self.net[:-1](x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).view(-1)


Generator, Discriminator = DCGANGenerator, DCGANDiscriminator  # the names build_nets looks for
