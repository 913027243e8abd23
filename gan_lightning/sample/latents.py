"""Latents and what a generator makes of them: spherical paths, truncation, batched drawing."""

import torch
from torch import Tensor, nn

from gan_lightning.nets.conditional import with_labels


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation from each row of `a` to the same row of `b` at the fractions `t`:
    (rows, len(t), dim). Keeps Gaussian latents at a typical norm along the path, where a
    straight line passes through the unlikely region near the origin (White 2016)."""
    omega = torch.arccos((a / a.norm(dim=-1, keepdim=True) * b / b.norm(dim=-1, keepdim=True)).sum(-1).clamp(-1, 1))
    omega, t = omega[:, None, None], t[None, :, None]
    so = torch.sin(omega).clamp_min(1e-8)
    return torch.sin((1 - t) * omega) / so * a[:, None] + torch.sin(t * omega) / so * b[:, None]


def truncated(noise: Tensor, psi: float | None) -> Tensor:
    """The truncation trick with StyleGAN's psi (Karras et al. 2019), in the input latent space:
    z -> mean + psi (z - mean), and the mean of z ~ N(0, I) is 0. psi = 1 (or None) leaves z as
    drawn; smaller psi trades variety for typical, cleaner samples."""
    return noise if psi is None or psi == 1 else noise * psi


@torch.no_grad()
def generate(generator: nn.Module, noise: Tensor, batch_size: int, labels: Tensor | None = None) -> Tensor:
    """G's images of `noise` (and class `labels`), `batch_size` at a time, as float32 on the CPU."""
    chunks = labels.split(batch_size) if labels is not None else [None] * len(noise.split(batch_size))
    return torch.cat([with_labels(generator, z, y) for z, y in zip(noise.split(batch_size), chunks)]).float().cpu()
