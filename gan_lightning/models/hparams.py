"""A variant's hyperparameters: its preset, read from its one definition in conf/model/, and
the checks every value passes before a net is built.

A variant is defined once, in `conf/model/<preset>.yaml` (what Hydra composes for
`model=<preset>`); a module built in Python without a value (`WGANGP(image_shape, net)`)
takes the same value from that file: its keys, and the
loss and reg its defaults list names.
"""

from functools import cache
from importlib.resources import files
from types import FrameType

from lightning.pytorch.core.mixins import HyperparametersMixin
from lightning.pytorch.utilities.parsing import collect_init_args
from omegaconf import OmegaConf

from gan_lightning.errors import ConfigError, require_number

OPTIMIZERS = ("adam", "rmsprop")


@cache
def preset(name: str) -> dict:
    """{hyperparameter: value} of conf/model/<name>.yaml, with `loss` (its name) and `reg` (its
    entries) resolved from the groups its defaults list overrides."""
    conf = files("gan_lightning.conf")
    model = OmegaConf.to_container(OmegaConf.load(conf / "model" / f"{name}.yaml"))
    values = {key: value for key, value in model.items() if key not in ("defaults", "_target_")}
    for entry in model.get("defaults", []):
        (target, choice), = entry.items()
        group = target.split()[-1].strip("/").split("@")[0]
        if group == "loss":
            values["loss"] = choice
        elif group == "reg":
            reg = {}
            for name in [choice] if isinstance(choice, str) else choice:
                reg.update(OmegaConf.to_container(OmegaConf.load(conf / "reg" / f"{name}.yaml")) or {})
            values["reg"] = {key: value for key, value in reg.items() if value is not None}  # shorthands unset
    return values


def arguments_with_preset(frame: FrameType, name: str | None) -> dict:
    """The arguments of the constructor running in `frame` and of every subclass's constructor
    that called it (what save_hyperparameters would record), each one not given (None) taken
    from the preset `name`."""
    given = {}
    for arguments in collect_init_args(frame, [], classes=(HyperparametersMixin,)):
        given.update(arguments)
    defaults = preset(name) if name else {}
    return {**given, **{key: value for key, value in defaults.items() if given.get(key) is None}}


def check_hparams(hp) -> None:
    """A ConfigError naming the first value a module cannot train with."""
    if hp.optimizer not in OPTIMIZERS:
        raise ConfigError(f"Unknown model.optimizer={hp.optimizer!r}: use one of {', '.join(OPTIMIZERS)}.")
    require_number("model.lr", hp.lr)
    for name in ("latent_dim", "n_critic", "num_samples"):
        require_number(f"model.{name}", hp[name], integer=True)
    for name in ("beta1", "beta2"):
        require_number(f"model.{name}", hp[name], high=1, low_allowed=True)
    if hp.ema_decay is not None:
        require_number("model.ema_decay", hp.ema_decay, high=1)
    if hp.get("ema_half_life") is not None:
        require_number("model.ema_half_life", hp.ema_half_life, low_allowed=True, example=500000)
        if hp.ema_decay:
            raise ConfigError(f"model.ema_decay={hp.ema_decay} and model.ema_half_life={hp.ema_half_life} both set "
                              f"the EMA's pace: keep one, e.g. model.ema_decay=null.")
    if hp.num_classes is not None:
        require_number("num_classes", hp.num_classes, integer=True)
        if hp.class_names is not None and len(hp.class_names) != hp.num_classes:
            raise ConfigError(f"class_names has {len(hp.class_names)} names for {hp.num_classes} classes.")


def check_own_loss(variant: type, base: type, loss: str | None) -> None:
    """What trained and what the hparams say must agree: a variant that replaces the loss hooks
    (discriminator_loss, generator_loss) trains its own loss, named by its `own_loss`, whatever
    `loss=` asks for; another loss is refused."""
    hooks = [name for name in ("discriminator_loss", "generator_loss")
             if getattr(variant, name) is not getattr(base, name)]
    if not hooks:
        return
    if variant.own_loss is None:
        raise ConfigError(f"{variant.__name__} overrides {' and '.join(hooks)}: name the loss they compute as a "
                          f"class attribute, e.g. own_loss = \"least_squares\", so that runs record it.")
    if loss != variant.own_loss:
        raise ConfigError(f"{variant.__name__} computes its own loss ({variant.own_loss}) in {' and '.join(hooks)}, "
                          f"so loss={loss} would not be what trains: drop loss={loss} (and make {variant.own_loss} "
                          f"the loss default of its conf/model YAML).")
