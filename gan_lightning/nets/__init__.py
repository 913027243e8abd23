"""G and D for every variant: `net=<name>` is gan_lightning/nets/<name>.py with conf/net/<name>.yaml.

The contract every net meets, checked here once, so that the variants, the projection
discriminator, spectral norm and the penalties work for any net without knowing it:

- `<name>.py` defines `Generator(latent_dim, image_shape, **options)` and
  `Discriminator(image_shape, **options)`, sized from the image (C, H, W); a size a net cannot
  make is a ConfigError saying which sizes it can.
- G: `forward(z) -> images` of `image_shape`, in [-1, 1] in eval mode (where samples are drawn). Class conditioning is G's own choice: a
  G whose constructor takes `num_classes` conditions itself (`forward(z, labels)`, e.g. the
  ResNet's conditional BatchNorm); any other is built for latent_dim + num_classes inputs and
  reads the one-hot label beside z (ConditionalGenerator).
- D: `features(x)`, a linear `head` that scores them, `feature_dim` (their flattened size), and
  `forward(x) -> one raw score per image` (no Sigmoid). Conditional D is the projection
  discriminator over those features (ProjectionDiscriminator). A D whose constructor takes
  `norm` (every conv D) gets the variant's critic normalisation, unless `net.d_norm` sets it. A
  D that cannot be spectrally normalised says why in a class attribute, `no_spectral_norm`.
- Config keys: `g_<key>` is G's `<key>`, `d_<key>` is D's `<key>`, any other key goes to each
  side that takes it; `name` and `spectral_norm` are read here. Every conv net takes
  `g_features` and `d_features`, its base widths, so one override works across nets.
"""

import importlib
import inspect
from collections.abc import Mapping, Sequence
from functools import cache

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_lightning.conf import config_options
from gan_lightning.errors import ConfigError
from gan_lightning.nets.conditional import ConditionalGenerator, ProjectionDiscriminator

__all__ = ["build_nets", "net_names", "ConditionalGenerator", "ProjectionDiscriminator"]


@cache
def net_names() -> tuple[str, ...]:
    """The nets `net=` can choose: one conf/net/<name>.yaml each."""
    return tuple(config_options("net"))


def net_classes(name: str) -> tuple[type, type]:
    """(Generator, Discriminator) of gan_lightning/nets/<name>.py."""
    if name not in net_names():
        raise ConfigError(f"Unknown net {name!r}: use one of net={', net='.join(net_names())}.")
    try:
        module = importlib.import_module(f"gan_lightning.nets.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"gan_lightning.nets.{name}":
            raise
        raise ConfigError(f"net={name} has a conf/net/{name}.yaml but no gan_lightning/nets/{name}.py: a net is "
                          f"both files (see docs/extending.md).") from None
    missing = [cls for cls in ("Generator", "Discriminator") if not hasattr(module, cls)]
    if missing:
        raise ConfigError(f"gan_lightning/nets/{name}.py defines no {' and no '.join(missing)}: a net file names "
                          f"its pair Generator and Discriminator (see docs/extending.md).")
    return module.Generator, module.Discriminator


# Constructor arguments build_nets fills itself: no config key sets them.
BUILT_IN = ("self", "latent_dim", "image_shape", "num_classes")


def _keywords(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - set(BUILT_IN)


def split_options(name: str, options: Mapping, g_takes: set[str], d_takes: set[str]) -> tuple[dict, dict]:
    """({G keyword: value}, {D keyword: value}) from the net's config keys, or a ConfigError naming
    the keys neither side takes."""
    g_options, d_options, unknown = {}, {}, []
    for key, value in options.items():
        if key.startswith("g_") and key[2:] in g_takes:
            g_options[key[2:]] = value
        elif key.startswith("d_") and key[2:] in d_takes:
            d_options[key[2:]] = value
        elif key in g_takes | d_takes:
            for takes, side in ((g_takes, g_options), (d_takes, d_options)):
                if key in takes:
                    side[key] = value
        else:
            unknown.append(key)
    if unknown:
        known = sorted({f"g_{k}" for k in g_takes} | {f"d_{k}" for k in d_takes} | g_takes & d_takes)
        raise ConfigError(f"Unknown option(s) {sorted(unknown)} for net={name}: it takes {known}.")
    return g_options, d_options


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_values(options: Mapping, g_class: type, d_class: type) -> None:
    """Widths, sizes and counts (the keys whose default or value is a number) are positive whole
    numbers, one or a list of them."""
    g_defaults, d_defaults = ({name: p.default for name, p in inspect.signature(cls).parameters.items()}
                              for cls in (g_class, d_class))
    for key, value in options.items():
        side = {"g_": g_defaults, "d_": d_defaults}.get(key[:2], {})
        default = side[key[2:]] if key[2:] in side else g_defaults.get(key, d_defaults.get(key))
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        numeric = _is_number(default) or (isinstance(default, (list, tuple)) and all(map(_is_number, default)))
        if not numeric and not any(map(_is_number, items)):
            continue
        if not items or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
            example = list(default) if isinstance(default, (list, tuple)) else default if _is_number(default) else 64
            raise ConfigError(f"net.{key}={value!r} must be a positive whole number (or a list of them where the net "
                              f"takes one per stage or layer), e.g. net.{key}={example}.")


def _check_discriminator(name: str, discriminator: nn.Module) -> None:
    missing = [part for part in ("features", "head", "feature_dim") if not hasattr(discriminator, part)]
    if missing:
        raise ConfigError(f"net={name}'s Discriminator has no {', '.join(missing)}: every D gives features(x), the "
                          f"linear head that scores them and feature_dim (see docs/extending.md).")


def build_nets(net: Mapping, image_shape: Sequence[int], latent_dim: int,
               critic_norm: str = "batch", num_classes: int | None = None) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for a `net` config such as {"name": "dcgan", "g_features": 64}.

    `critic_norm` is the variant's choice of normalisation in a conv critic (WGAN-GP forbids
    BatchNorm there); `net.d_norm`, where a net's YAML sets it, wins. `spectral_norm: true`
    divides each of D's weights by its largest singular value (Miyato et al. 2018). With
    `num_classes`, G and D both take (input, labels).
    """
    options = {key: value for key, value in net.items() if key not in ("name", "spectral_norm")}
    name, spectral = net.get("name"), net.get("spectral_norm", False)
    if not isinstance(spectral, bool):
        raise ConfigError(f"net.spectral_norm={spectral!r} must be true or false.")
    g_class, d_class = net_classes(name)
    g_takes, d_takes = _keywords(g_class), _keywords(d_class)
    g_options, d_options = split_options(name, options, g_takes, d_takes)
    _check_values(options, g_class, d_class)
    if spectral and getattr(d_class, "no_spectral_norm", None):
        raise ConfigError(f"net={name} cannot take net.spectral_norm=true: {d_class.no_spectral_norm}.")
    if "norm" in d_takes and d_options.get("norm") is None:
        d_options["norm"] = critic_norm
    conditions_itself = num_classes is not None and "num_classes" in inspect.signature(g_class).parameters
    if conditions_itself:
        generator = g_class(latent_dim, image_shape, num_classes=num_classes, **g_options)
    elif num_classes is not None:
        generator = ConditionalGenerator(g_class(latent_dim + num_classes, image_shape, **g_options), num_classes)
    else:
        generator = g_class(latent_dim, image_shape, **g_options)
    discriminator = d_class(image_shape, **d_options)
    _check_discriminator(name, discriminator)
    if num_classes is not None:
        discriminator = ProjectionDiscriminator(discriminator, num_classes)
    if spectral:  # the projection's class embedding too, as in Miyato & Koyama
        for layer in [m for m in discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding))]:
            spectral_norm(layer)
    return generator, discriminator
