"""The critic's normalisation, one keyword (`norm`) every conv D takes: the variant chooses it
(batch | layer | none) and a gradient penalty makes "batch" per-sample ("layer")."""

from torch import nn

from gan_lightning.errors import ConfigError

NORMS = ("batch", "layer", "none")


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"Unknown critic normalisation {norm!r}: use one of net.d_norm={', net.d_norm='.join(NORMS)}.")


def critic_norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample over (C, H, W): keeps the gradient penalty per-sample
        return nn.GroupNorm(1, channels)
    return nn.Identity()
