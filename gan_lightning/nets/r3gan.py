"""R3GAN's nets (Huang et al., NeurIPS 2024, "The GAN is dead; long live the GAN!"), in plain PyTorch.

A ResNet modernised: no normalisation layers, residual blocks of
`x + conv1x1(C -> eC) -> bias + LeakyReLU(0.2) -> grouped conv3x3 -> bias + LeakyReLU -> conv1x1(eC -> C)`
(e = `expansion`, groups = `cardinality`), fix-up initialisation (each block's last conv starts at
zero, the others are He-initialised and scaled by L^-1/4 for L blocks in the net, so the
variance of a stack of blocks does not grow with depth), and resampling through a [1, 3, 3, 1]
binomial filter. G starts from a learned 4x4 constant scaled per channel by a linear
projection of z (and of the class's embedding when conditional), and each stage changes width
with a 1x1 conv before upsampling. D reads the image with a 1x1 conv, downsamples after each
stage's blocks, and ends with a 4x4 depthwise conv and a linear layer: its features are that
conv's output, scored by the linear `head` (the projection discriminator adds the class term).

Where this differs from the released code (R3GAN/Networks.py) and why:
- G ends at its 1x1 conv, unbounded while it trains, as R3GAN's does, and clamps to [-1, 1] in
  eval mode, where samples, grids and metrics are drawn. A Tanh, as the other nets end in,
  saturated here: with no normalisation layer before it, `model=r3gan` on digits pushed G's
  pre-activations to about -70 within 600 steps, where Tanh passes no gradient, and G drew
  black squares from then on.
- The class embedding of G is an nn.Embedding of width `embedding` beside z, equivalent to
  R3GAN's bias-free linear layer on the one-hot label.
- D's conditional score is the projection discriminator's head(features) + <embed(y), features>
  (R3GAN keeps the inner product only).

Sizes: square images of side 4 * 2^n, n >= 1 (8, 16, 32, 64, ...); one stage per size.
"""

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError

SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + SLOPE**2))  # He's gain for LeakyReLU(0.2)
FILTER = (1.0, 3.0, 3.0, 1.0)


def r3gan_stages(image_shape: Sequence[int]) -> int:
    """The number of stages (sizes 4, 8, ..., side), or a ConfigError."""
    _, height, width = image_shape
    stages, side = 1, height
    while side > 4 and side % 2 == 0:
        side //= 2
        stages += 1
    if height != width or side != 4 or stages < 2:
        hint = ("set data.image_size=32, which pads digits 2 pixels a side" if height == width == 28
                else "set data.image_size to one of those")
        raise ConfigError(f"The R3GAN nets cannot make {height}x{width} images: they make square images of side "
                          f"4 x 2^n (8, 16, 32, 64, 128, 256); {hint}.")
    return stages


def per_stage(name: str, value: int | Sequence[int], stages: int) -> list[int]:
    """`value` for every stage: one number for all, or a list with one entry per stage."""
    values = [value] * stages if isinstance(value, int) else list(value)
    if len(values) != stages:
        raise ConfigError(f"net.{name}={list(value)} has {len(values)} entries for {stages} stages (sizes 4 to "
                          f"{4 * 2 ** (stages - 1)}): give one number for all stages or one per stage.")
    return values


def he_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """N(0, gain^2 / fan_in) weights (R3GAN's MSRInitializer); gain 0 starts the layer at zero."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in)) if gain else nn.init.zeros_(layer.weight)
    return layer


def conv(in_channels: int, out_channels: int, kernel: int, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    return he_init(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, groups=groups, bias=False), gain)


class BiasedLeakyReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1).to(x.dtype), SLOPE)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, expansion: int, cardinality: int, total_blocks: int):
        super().__init__()
        wide = channels * expansion
        gain = ACTIVATION_GAIN * total_blocks ** -0.25  # fix-up: L^(-1/(2m-2)) with m = 3 layers
        self.expand, self.act1 = conv(channels, wide, 1, gain=gain), BiasedLeakyReLU(wide)
        self.grouped, self.act2 = conv(wide, wide, 3, groups=cardinality, gain=gain), BiasedLeakyReLU(wide)
        self.project = conv(wide, channels, 1, gain=0.0)  # the block starts as the identity

    def forward(self, x: Tensor) -> Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


class Resample(nn.Module):
    """2x up or down through the separable [1, 3, 3, 1] filter, per channel."""

    def __init__(self, up: bool):
        super().__init__()
        taps = torch.tensor(FILTER)
        kernel = torch.outer(taps, taps)
        self.register_buffer("kernel", kernel / kernel.sum() * (4 if up else 1), persistent=False)
        self.up = up

    def forward(self, x: Tensor) -> Tensor:
        weight = self.kernel.to(x.dtype).expand(x.shape[1], 1, 4, 4)
        if self.up:  # zeros between the pixels, then the filter: (H-1)*2 - 2 + 4 = 2H
            return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=x.shape[1])
        return F.conv2d(x, weight, stride=2, padding=1, groups=x.shape[1])


def _check_cardinality(widths: list[int], expansion: int, cardinality: list[int], side: str) -> None:
    for width, groups in zip(widths, cardinality):
        if groups < 1 or (width * expansion) % groups:
            raise ConfigError(f"net.cardinality={groups} does not divide {side}'s expanded width {width * expansion} "
                              f"(net.{side[0]}_features={width} x net.expansion={expansion}): the grouped conv needs "
                              f"a cardinality that divides it, e.g. net.cardinality={math.gcd(width * expansion, 8)}.")


def _stages(features: int, widths: Sequence[int] | None, stages: int, side: str) -> list[int]:
    return [features] * stages if widths is None else per_stage(f"{side[0]}_widths", widths, stages)


class Generator(nn.Module):
    def __init__(self, latent_dim: int, image_shape: Sequence[int], features: int = 768,
                 widths: Sequence[int] | None = None, blocks: int | Sequence[int] = 2, expansion: int = 2,
                 cardinality: int | Sequence[int] = 96, embedding: int = 64, num_classes: int | None = None):
        super().__init__()
        stages = r3gan_stages(image_shape)
        widths, blocks = _stages(features, widths, stages, "g"), per_stage("blocks", blocks, stages)
        cardinality = per_stage("cardinality", cardinality, stages)
        _check_cardinality(widths, expansion, cardinality, "generator")
        total = sum(blocks)
        self.embed = None if num_classes is None else nn.Embedding(num_classes, embedding)
        inputs = latent_dim + (0 if num_classes is None else embedding)
        self.basis = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.project = he_init(nn.Linear(inputs, widths[0], bias=False))
        self.stages = nn.ModuleList()
        for i in range(stages):
            layers: list[nn.Module] = []
            if i:
                if widths[i - 1] != widths[i]:
                    layers.append(conv(widths[i - 1], widths[i], 1))
                layers.append(Resample(up=True))
            layers += [ResidualBlock(widths[i], expansion, cardinality[i], total) for _ in range(blocks[i])]
            self.stages.append(nn.Sequential(*layers))
        self.to_image = conv(widths[-1], image_shape[0], 1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)
        h = self.basis.unsqueeze(0) * self.project(z)[:, :, None, None]
        for stage in self.stages:
            h = stage(h)
        images = self.to_image(h)
        return images if self.training else images.clamp(-1, 1)


class Discriminator(nn.Module):
    no_spectral_norm = ("its blocks' last convs start at zero (fix-up initialisation), and spectral "
                        "normalisation divides by their largest singular value; R3GAN uses none: drop net.spectral_norm=true")

    def __init__(self, image_shape: Sequence[int], features: int = 768, widths: Sequence[int] | None = None,
                 blocks: int | Sequence[int] = 2, expansion: int = 2, cardinality: int | Sequence[int] = 96,
                 norm: str = "none"):
        super().__init__()
        if norm != "none":
            raise ConfigError(f"net=r3gan has no normalisation layers (fix-up initialisation keeps it stable), so "
                              f"its critic cannot use {norm} normalisation: set net.d_norm=none.")
        stages = r3gan_stages(image_shape)
        widths = _stages(features, widths, stages, "d")[::-1]  # from the image size down to 4x4
        blocks, cardinality = per_stage("blocks", blocks, stages)[::-1], per_stage("cardinality", cardinality, stages)[::-1]
        _check_cardinality(widths, expansion, cardinality, "discriminator")
        total = sum(blocks)
        self.from_image = conv(image_shape[0], widths[0], 1)
        layers: list[nn.Module] = []
        for i in range(stages):
            layers += [ResidualBlock(widths[i], expansion, cardinality[i], total) for _ in range(blocks[i])]
            if i < stages - 1:
                layers.append(Resample(up=False))
                if widths[i] != widths[i + 1]:
                    layers.append(conv(widths[i], widths[i + 1], 1))
        self.stages = nn.Sequential(*layers)
        self.basis = he_init(nn.Conv2d(widths[-1], widths[-1], 4, groups=widths[-1], bias=False))  # 4x4 -> 1x1
        self.feature_dim = widths[-1]
        self.head = he_init(nn.Linear(self.feature_dim, 1, bias=False))

    def features(self, x: Tensor) -> Tensor:
        return self.basis(self.stages(self.from_image(x))).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)).view(-1)
