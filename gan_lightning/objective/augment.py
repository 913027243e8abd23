"""DiffAugment (Zhao et al. 2020): differentiable augmentation of every image D sees.

The same policy is applied to real and fake images, in the critic step and in the generator
step, so D never sees an un-augmented image and G learns through the augmentation; each image
of a batch draws its own transform. It helps most on small data sets (StyleGAN2 on 10% of
CIFAR-10: FID 36.0 -> 14.5). Images are in [-1, 1]; cut-out and translated-in areas become 0.

`augment.p` below 1 applies each transform to each image with probability p, as ADA's pipeline
does (Karras et al. 2020); R3GAN schedules it from 0 to 0.55 (schedule.augment_p=cosine), and
augment=ada steers it by how much D overfits (ADA's r_t, adaptive.py).
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.objective.adaptive import AdaptiveProbability


def _per_image(x: Tensor) -> Tensor:
    """Uniform [0, 1) numbers, one per image, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5)."""
    x = x + (_per_image(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_per_image(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_image(x) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to `ratio` of its size in each direction, filling with zeros."""
    n, _, height, width = x.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-shift_y, shift_y + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-shift_x, shift_x + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(height, device=x.device).view(1, -1, 1) + dy + 1).clamp(0, height + 1)
    cols = (torch.arange(width, device=x.device).view(1, 1, -1) + dx + 1).clamp(0, width + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # a zero border that out-of-range indices land on
    return padded[torch.arange(n, device=x.device).view(-1, 1, 1), rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of `ratio` of each side at a random place in each image (it may overhang the edge)."""
    n, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + (1 - size_y % 2), (n, 1, 1), device=x.device) - size_y // 2
    left = torch.randint(0, width + (1 - size_x % 2), (n, 1, 1), device=x.device) - size_x // 2
    rows = torch.arange(height, device=x.device).view(1, -1, 1)
    cols = torch.arange(width, device=x.device).view(1, 1, -1)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICY_WORDS = {"color": color, "translation": translation, "cutout": cutout}
POLICY = ("color", "translation", "cutout")  # DiffAugment's recommended policy


class DiffAugment(nn.Module):
    """The policy's transforms in order: DiffAugment(["color", "cutout"]) or DiffAugment("color,cutout")."""

    def __init__(self, policy: str | Sequence[str] = POLICY, p: float = 1.0):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ConfigError(f"augment.p={p!r} is a probability: use a number in [0, 1], e.g. augment.p=0.5.")
        self.p = float(p)  # a schedule may change it as training goes on
        words = [w.strip() for w in (policy.split(",") if isinstance(policy, str) else policy) if str(w).strip()]
        unknown = [word for word in words if word not in POLICY_WORDS]
        if unknown or not words:
            shown = f"[{','.join(map(str, policy))}]" if not isinstance(policy, str) else policy
            raise ConfigError(f"augment.policy={shown} has {'unknown word ' + repr(unknown[0]) if unknown else 'no words'}: "
                              f"use a list of {', '.join(POLICY_WORDS)}, e.g. augment.policy=[color,translation,cutout].")
        self.policy = words

    def forward(self, x: Tensor) -> Tensor:
        if self.p <= 0:
            return x
        for word in self.policy:
            augmented = POLICY_WORDS[word](x)
            # p < 1: each image keeps this transform with probability p (p = 1 draws nothing more)
            x = augmented if self.p >= 1 else torch.where(_per_image(x) < self.p, augmented, x)
        return x

    def extra_repr(self) -> str:
        return ",".join(self.policy) + ("" if self.p == 1 else f", p={self.p:g}")


class AdaptiveAugment(DiffAugment):
    """augment=ada: DiffAugment's transforms with ADA's adaptive p (adaptive.py), which rises while
    D overfits its real images (r_t above `target`) and falls while it does not."""

    def __init__(self, policy: str | Sequence[str] = POLICY, p: float = 0.0, target: float = 0.6,
                 kimg: float = 100, interval: int = 4):
        super().__init__(policy, p)
        self.steer = AdaptiveProbability("augment", target=target, kimg=kimg, interval=interval, p=p)

    def forward(self, x: Tensor) -> Tensor:
        p = self.steer.p.to(x.dtype)
        for word in self.policy:
            x = torch.where(_per_image(x) < p, POLICY_WORDS[word](x), x)
        return x

    def extra_repr(self) -> str:
        return ",".join(self.policy) + f", adaptive p ({self.steer.extra_repr()})"


OPTIONS = {"diffaugment": {"policy", "p"}, "ada": {"policy", "p", "target", "kimg", "interval"}}


def build_augment(augment) -> DiffAugment | None:
    """The module an `augment` config asks for ({"name": "diffaugment", "policy": ...}), or None."""
    options = dict(augment or {})
    name = options.pop("name", "none")
    if name == "none" and not options:
        return None
    if name not in OPTIONS or set(options) - OPTIONS[name]:
        raise ConfigError(f"Unknown augment {name!r} with options {sorted(options)}: use augment=none, "
                          f"augment=diffaugment (with augment.policy=[color,translation,cutout], augment.p=1.0) "
                          f"or augment=ada (with augment.target=0.6, augment.kimg=100).")
    if name == "ada":
        return AdaptiveAugment(**options)
    return DiffAugment(options.get("policy", POLICY), options.get("p", 1.0))
