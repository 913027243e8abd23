"""The ResNet G and D of SNGAN (Miyato et al. 2018) and BigGAN (Brock et al. 2019).

G: linear z -> a 4x4 map (6x6 for 48 and 96 pixels) -> up-blocks -> BN, ReLU, conv3x3, tanh.
   Up-block: BN, ReLU, 2x nearest upsample, conv3x3, BN, ReLU, conv3x3, plus a shortcut
   (upsample, conv1x1). Conditional, the blocks' BatchNorms take a gain and bias per class
   (conditional BatchNorm, as in cGAN-PD and BigGAN).
D: an optimised first block (conv3x3, ReLU, conv3x3, 2x average pool; shortcut: pool, conv1x1),
   down-blocks (ReLU, conv3x3, ReLU, conv3x3, pool; shortcut: conv1x1, pool), blocks that keep
   the size, ReLU, global sum pool = features, linear head. `norm` (none in SNGAN and BigGAN,
   conf/net/resnet.yaml) goes before each ReLU of the residual branches when the variant asks.

Sizes: side = s * 2^n with s 4 or 6 and n 3..6 (32, 48, 64, 96, 128, 192, 256). At 32 and 48
pixels every stage is `g_features` / `d_features` wide, the CIFAR-10 reference (256 / 128,
three up-blocks; D: optimised block, one down-block, two plain blocks, as in Miyato's and
Mimicry's SNGAN). Larger images get BigGAN's shape: G's stages widen up to 4x toward the
bottom (width at the stage of side 4 * 2^i: g_features * 2^(3 - i), at most 4x), D mirrors
them and ends with one plain block at the bottom size. Init: Xavier-uniform, gain sqrt(2) in
the residual branches and 1 elsewhere (the SNGAN code).
"""

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets.norm import check_norm, critic_norm_layer

SIDES = "32, 48, 64, 96, 128, 192 or 256"


def resnet_layout(image_shape: Sequence[int]) -> tuple[int, int]:
    """(bottom size s, number of up-blocks n) with side = s * 2**n, or a ConfigError."""
    _, height, width = image_shape
    side, blocks = height, 0
    while side % 2 == 0 and side > 6:
        side //= 2
        blocks += 1
    if height != width or side not in (4, 6) or not 3 <= blocks <= 6:
        hint = ("set data.image_size=32, which pads digits 2 pixels a side" if height == width == 28
                else "set data.image_size to one of those")
        raise ConfigError(f"The ResNet nets cannot make {height}x{width} images: they make square images of "
                          f"{SIDES} pixels; {hint}, or use net=dcgan.")
    return side, blocks


def stage_widths(base: int, blocks: int) -> list[int]:
    """The width of each stage, from the bottom size (index 0) to the image size (index `blocks`)."""
    if blocks == 3:
        return [base] * 4
    return [max(1, base * 2 ** min(2, 3 - i) if i <= 3 else base // 2 ** (i - 3)) for i in range(blocks + 1)]


def _init(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    nn.init.zeros_(module.bias)
    return module


def conv(in_channels: int, out_channels: int, kernel: int, gain: float = math.sqrt(2)) -> nn.Conv2d:
    return _init(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2), gain)


class GeneratorNorm(nn.Module):
    """BatchNorm; conditional (num_classes), its gain and bias come from the class, starting at 1 and 0."""

    def __init__(self, channels: int, num_classes: int | None):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=num_classes is None)
        self.embed = None
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes, 2 * channels)
            with torch.no_grad():
                self.embed.weight[:, :channels].fill_(1)
                self.embed.weight[:, channels:].zero_()

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        x = self.norm(x)
        if self.embed is None:
            return x
        gain, bias = self.embed(labels)[:, :, None, None].chunk(2, dim=1)
        return x * gain + bias


class UpBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_classes: int | None):
        super().__init__()
        self.norm1, self.conv1 = GeneratorNorm(in_channels, num_classes), conv(in_channels, out_channels, 3)
        self.norm2, self.conv2 = GeneratorNorm(out_channels, num_classes), conv(out_channels, out_channels, 3)
        self.shortcut = conv(in_channels, out_channels, 1, gain=1.0)

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, labels)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class Generator(nn.Module):
    def __init__(self, latent_dim: int, image_shape: Sequence[int], features: int = 256,
                 num_classes: int | None = None):
        super().__init__()
        self.bottom, blocks = resnet_layout(image_shape)
        widths = stage_widths(features, blocks)
        self.linear = _init(nn.Linear(latent_dim, widths[0] * self.bottom ** 2), 1.0)
        self.blocks = nn.ModuleList(UpBlock(widths[i], widths[i + 1], num_classes) for i in range(blocks))
        self.norm = nn.BatchNorm2d(widths[-1])
        self.to_image = conv(widths[-1], image_shape[0], 3, gain=1.0)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.linear(z).view(z.shape[0], -1, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, labels)
        return self.to_image(F.relu(self.norm(h))).tanh()


class DownBlock(nn.Module):
    """Pre-activation residual block; `optimised` is the first block, which reads the image itself."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, norm: str, optimised: bool = False):
        super().__init__()
        self.downsample, self.optimised = downsample, optimised
        self.norm1 = nn.Identity() if optimised else critic_norm_layer(norm, in_channels)
        self.conv1 = conv(in_channels, out_channels, 3)
        self.norm2, self.conv2 = critic_norm_layer(norm, out_channels), conv(out_channels, out_channels, 3)
        learnable = downsample or in_channels != out_channels
        self.shortcut = conv(in_channels, out_channels, 1, gain=1.0) if learnable else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.optimised else F.relu(self.norm1(x))
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        if self.optimised:  # pool first: the 1x1 conv then reads a quarter of the pixels
            return h + self.shortcut(F.avg_pool2d(x, 2))
        shortcut = self.shortcut(x)
        return h + (F.avg_pool2d(shortcut, 2) if self.downsample else shortcut)


class Discriminator(nn.Module):
    def __init__(self, image_shape: Sequence[int], features: int = 128, norm: str = "none"):
        super().__init__()
        check_norm(norm)
        _, blocks = resnet_layout(image_shape)
        widths = stage_widths(features, blocks)[::-1]  # from the image size down
        if blocks == 3:  # the CIFAR-10 reference: two halvings, then two blocks at that size
            plan = [(image_shape[0], widths[0], True), (widths[0], widths[0], True),
                    (widths[0], widths[0], False), (widths[0], widths[0], False)]
        else:  # halve down to the bottom size (D's width at each size mirrors G's), one block there
            plan = [(image_shape[0], widths[1], True)]
            plan += [(widths[i], widths[i + 1], True) for i in range(1, blocks)]
            plan += [(widths[-1], widths[-1], False)]
        self.blocks = nn.Sequential(*(DownBlock(c_in, c_out, down, norm, optimised=i == 0)
                                      for i, (c_in, c_out, down) in enumerate(plan)))
        self.feature_dim = plan[-1][1]
        self.head = _init(nn.Linear(self.feature_dim, 1), 1.0)

    def features(self, x: Tensor) -> Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).view(-1)
