"""Plain nn.Modules for G and D, chosen by the `net` config group (independent of the variant)."""

from collections.abc import Mapping, Sequence

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_lightning.nets.conditional import ConditionalGenerator, ProjectionDiscriminator
from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_lightning.nets.mlp import MLPDiscriminator, MLPGenerator
from gan_lightning.run.errors import ConfigError

__all__ = ["build_nets", "ConditionalGenerator", "DCGANGenerator", "DCGANDiscriminator", "MLPGenerator",
           "MLPDiscriminator", "ProjectionDiscriminator"]

# net name -> (G class, D class, {config key: G argument}, {config key: D argument})
NETS = {
    "mlp": (MLPGenerator, MLPDiscriminator,
            {"g_hidden": "hidden", "g_batchnorm": "batchnorm"}, {"d_hidden": "hidden"}),
    "dcgan": (DCGANGenerator, DCGANDiscriminator, {"g_features": "features"}, {"d_features": "features"}),
}


def build_nets(net: Mapping, image_shape: Sequence[int], latent_dim: int,
               critic_norm: str = "batch", num_classes: int | None = None) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for a `net` config such as {"name": "dcgan", "g_features": 64}.

    `critic_norm` is the variant's choice of normalisation in a conv critic (WGAN-GP forbids
    BatchNorm there); the MLP critic has no normalisation to choose. `spectral_norm: true`
    (any net) divides each of D's weights by its largest singular value (Miyato et al. 2018).
    With `num_classes`, G reads the one-hot label beside z and D is a
    projection discriminator (nets/conditional.py); both then take (input, labels).
    """
    options = dict(net)
    name = options.pop("name", None)
    spectral = options.pop("spectral_norm", False)
    if not isinstance(spectral, bool):
        raise ConfigError(f"net.spectral_norm={spectral!r} must be true or false.")
    if name not in NETS:
        raise ConfigError(f"Unknown net {name!r}: use one of net={', net='.join(NETS)}.")
    g_class, d_class, g_keys, d_keys = NETS[name]
    unknown = sorted(set(options) - set(g_keys) - set(d_keys))
    if unknown:
        raise ConfigError(f"Unknown option(s) {unknown} for net={name}: it takes {sorted({*g_keys, *d_keys})}.")
    for key, value in options.items():  # widths and layer sizes: positive integers
        sizes = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, int) and not isinstance(v, bool) and v < 1 for v in sizes):
            raise ConfigError(f"net.{key}={value} must be positive: widths and layer sizes are at least 1, "
                              f"e.g. net.{key}={[64] if isinstance(value, (list, tuple)) else 64}.")
    g_kwargs = {arg: options[key] for key, arg in g_keys.items() if key in options}
    d_kwargs = {arg: options[key] for key, arg in d_keys.items() if key in options}
    if d_class is DCGANDiscriminator:
        d_kwargs["norm"] = critic_norm
    g_inputs = latent_dim if num_classes is None else latent_dim + num_classes
    generator, discriminator = g_class(g_inputs, image_shape, **g_kwargs), d_class(image_shape, **d_kwargs)
    if num_classes is not None:
        generator = ConditionalGenerator(generator, num_classes)
        discriminator = ProjectionDiscriminator(discriminator, num_classes)
    if spectral:  # the projection's class embedding too, as in Miyato & Koyama
        for layer in [m for m in discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding))]:
            spectral_norm(layer)
    return generator, discriminator
