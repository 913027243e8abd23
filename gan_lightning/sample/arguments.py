"""The sampling CLI's key=value arguments: parsed, typed and checked before anything is drawn."""

from pathlib import Path

import torch

from gan_lightning.errors import ConfigError

VIEWS = ("grid", "interpolation", "truncation", "neighbours", "classes", "projection")
DEFAULTS = {"ckpt": None, "view": "grid", "n": 64, "out": None, "seed": None, "rows": 8, "steps": 10,
            "nrow": None, "ema": True, "device": "auto", "batch_size": 500, "label": None, "crop": None,
            "truncation": None, "k": 7, "num_samples": 2000, "image": None, "iterations": 300,
            "inception_weights": None}
TYPES = {"n": int, "seed": int, "rows": int, "steps": int, "nrow": int, "batch_size": int, "crop": int, "k": int,
         "num_samples": int, "iterations": int}
# What each view writes when out= is not given.
OUT = {"grid": "samples.png", "interpolation": "interpolation.png", "truncation": "truncation.png",
       "neighbours": "neighbours.png", "classes": "classes.png", "projection": "projection.png"}
# view=truncation's levels when truncation= is not given: from none (1) to tight.
TRUNCATION_LEVELS = (1.0, 0.8, 0.6, 0.4)
AT_LEAST = {"n": 1, "rows": 1, "steps": 2, "batch_size": 1, "k": 1, "num_samples": 100, "iterations": 1}
# The keys every view reads, and those of each view: a key typed for a view that does not read it is refused.
COMMON = {"ckpt", "view", "out", "seed", "ema", "device", "batch_size"}
READS = {"grid": {"n", "nrow", "label", "crop", "truncation"}, "interpolation": {"rows", "steps", "truncation"},
         "truncation": {"rows", "truncation", "num_samples", "inception_weights"},
         "neighbours": {"rows", "k", "num_samples", "truncation", "inception_weights"},
         "classes": {"nrow", "truncation"}, "projection": {"image", "iterations", "label"}}
SEEDS = 2**63  # torch.manual_seed takes 0 .. 2**63 - 1


def truncation_levels(text: str) -> tuple[float, ...]:
    """`0.7`, `1,0.7,0.5` or `[1,0.7,0.5]` -> levels, each in (0, 1]."""
    items = [item.strip() for item in text.strip().strip("[]").split(",")]
    try:
        levels = tuple(float(item) for item in items)
    except ValueError:
        raise ConfigError(f"truncation={text} is not a number or a list of numbers: e.g. truncation=0.7 or "
                          f"truncation=1,0.8,0.6.") from None
    for level in levels:
        if not 0 < level <= 1:
            raise ConfigError(f"truncation={text} holds {level:g}, outside (0, 1]: 1 is no truncation, smaller values "
                              f"pull the latents toward their mean, e.g. truncation=0.7.")
    return levels


def parse_args(argv: list[str]) -> dict:
    args, typed = dict(DEFAULTS), []
    for item in argv:
        key, sep, value = item.partition("=")
        if key == "mode" and sep:
            raise ConfigError(f"{item} is now view=: use view={'interpolation' if value == 'interpolate' else value}.")
        if not sep or key not in DEFAULTS:
            raise ConfigError(f"Unknown argument {item!r}: use key=value with keys {', '.join(DEFAULTS)}.")
        if key in typed:
            raise ConfigError(f"{key}= is given twice ({' '.join(a for a in argv if a.startswith(key + '='))}): "
                              f"give it once.")
        typed.append(key)
        if not value.strip():
            raise ConfigError(f"{key}= is empty: give a value, or leave the key out"
                              f"{'' if DEFAULTS[key] is None else f' for its default, {DEFAULTS[key]}'}.")
        if key == "truncation":  # its own sentences
            args[key] = truncation_levels(value)
            continue
        try:
            if key == "ema":
                if value.lower() not in ("true", "false"):
                    raise ValueError
                args[key] = value.lower() == "true"
            else:
                args[key] = TYPES.get(key, str)(value)
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a valid {'true/false' if key == 'ema' else 'integer'}: "
                              f"e.g. {key}={'true' if key == 'ema' else DEFAULTS[key] or 1}.") from None
    if args["ckpt"] is None:
        raise ConfigError("ckpt=PATH is required: a checkpoints/last.ckpt or best.ckpt of a gan_lightning run.")
    if args["view"] not in VIEWS:
        raise ConfigError(f"view={args['view']} is not a view: use one of {', '.join(VIEWS)}.")
    unread = [key for key in typed if key not in COMMON | READS[args["view"]]]
    if args["image"] is not None and args["view"] != "projection":
        raise ConfigError(f"image={args['image']} is read by view=projection only: add view=projection, or drop it.")
    if unread:
        raise ConfigError(f"{unread[0]}={args[unread[0]]} is not read by view={args['view']}, which reads "
                          f"{', '.join(sorted(READS[args['view']]))} (and {', '.join(sorted(COMMON - {'view'}))}): "
                          f"drop it.")
    if args["seed"] is not None and not 0 <= args["seed"] < SEEDS:
        raise ConfigError(f"seed={args['seed']} is outside 0 .. 2**63 - 1, the seeds PyTorch takes: e.g. seed=3.")
    for key, low in AT_LEAST.items():
        if args[key] < low:
            raise ConfigError(f"{key}={args[key]} is too small: use {key}={low} or more (default {DEFAULTS[key]}).")
    if args["nrow"] is not None and args["nrow"] < 1:
        raise ConfigError(f"nrow={args['nrow']} is too small: a grid has at least one column, e.g. nrow=8.")
    if args["view"] == "projection" and args["image"] is None:
        raise ConfigError("view=projection needs image=PATH: the real image whose latent is sought.")
    if args["view"] == "truncation" and args["truncation"] is None:
        args["truncation"] = TRUNCATION_LEVELS
    if args["view"] != "truncation" and args["truncation"] is not None and len(args["truncation"]) > 1:
        raise ConfigError(f"truncation={','.join(f'{t:g}' for t in args['truncation'])} gives several levels, which "
                          f"view=truncation shows side by side: add view=truncation, or give one level.")
    args["out"] = str(Path(args["out"] or OUT[args["view"]]).expanduser())
    return args


def psi(args: dict) -> float | None:
    """The one truncation level a view other than view=truncation draws at (None: none)."""
    return args["truncation"][0] if args["truncation"] else None


def class_index(label: str | None, hparams: dict, ckpt: str) -> int | None:
    """The class `label=` names (an index or a class name), checked against the checkpoint's classes."""
    names = hparams.get("class_names")
    if label is None:
        return None
    if names is None:
        raise ConfigError(f"ckpt={ckpt} was trained without conditional=true, so it has no classes: drop label={label}.")
    if label in names:
        return names.index(label)
    if label.lstrip("-").isdigit() and 0 <= int(label) < len(names):
        return int(label)
    shown = ", ".join(f"{k} ({name})" for k, name in enumerate(names[:12]))
    raise ConfigError(f"label={label} is not a class of ckpt={ckpt}: give an index 0..{len(names) - 1} or a name: "
                      f"{shown}{', ...' if len(names) > 12 else ''}.")


def resolve_device(name: str) -> str:
    """auto -> cuda when there is a GPU, else cpu; a device this machine lacks is a ConfigError."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r} is not a device: use auto, cpu, cuda or cuda:N.") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device={name} is not one this command draws on: use auto, cpu, cuda or cuda:N.")
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device={name} but PyTorch sees {torch.cuda.device_count()} CUDA GPUs on this machine: "
                          f"use device=cpu (or device=auto).")
    return name
