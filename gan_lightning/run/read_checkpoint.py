"""Reading a gan_lightning checkpoint without Hydra, the training config or the variant's class,
and checking that one fits the run that is about to resume from it."""

from pathlib import Path

import torch
from torch import nn

from gan_lightning.nets import build_nets
from gan_lightning.run.errors import ConfigError


def read_checkpoint(path: str | Path, key: str = "ckpt") -> dict:
    """The checkpoint at `path` (`key=path` on the command line), or a ConfigError saying what is wrong."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{key}={path} is a directory: give a checkpoint file in it, e.g. "
                          f"{key}={path / 'checkpoints' / 'last.ckpt'}.")
    if not path.is_file():
        raise ConfigError(f"{key}={path} does not exist: give a run's checkpoints/last.ckpt or best.ckpt.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"{key}={path} is not a gan_lightning checkpoint: PyTorch cannot read it as one "
                          f"({type(err).__name__}; a file cut short by a full disk or a copy still in progress "
                          f"looks like this).") from err
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    state = checkpoint.get("state_dict", {}) if isinstance(checkpoint, dict) else {}
    if not {"net", "image_shape", "latent_dim"} <= set(hparams) or not any(k.startswith("generator.") for k in state):
        raise ConfigError(f"{key}={path} is not a gan_lightning checkpoint: it has no generator weights and net, "
                          f"image_shape, latent_dim hyperparameters.")
    return checkpoint


def describe(variant: str | None, hparams: dict, data: str | None) -> str:
    """'DCGAN with net=dcgan on 1x28x28 images of mnist5k' (the parts that are known), and
    ', conditional on 10 classes' for a conditional one."""
    shape = "x".join(str(side) for side in hparams["image_shape"])
    text = f"{variant or 'a model'} with net={hparams['net'].get('name')} on {shape} images"
    text += f" of {data}" if data else ""
    return text + (f", conditional on {len(hparams['class_names'])} classes" if hparams.get("class_names") else "")


def check_resumable(checkpoint: dict, path: str, model, datamodule) -> None:
    """A ConfigError naming both sides when `checkpoint` was not written by a run like this one."""
    hparams = checkpoint["hyper_parameters"]
    stamp = checkpoint.get("gan_lightning", {})
    ours = {key: model.hparams.get(key) for key in ("net", "image_shape", "latent_dim", "optimizer", "class_names")}
    theirs = {key: hparams.get(key) for key in ours}
    theirs["image_shape"] = list(theirs["image_shape"])
    ours["image_shape"] = list(ours["image_shape"])
    for side in (ours, theirs):  # checkpoints from before net.spectral_norm existed had it off
        side["net"] = {"spectral_norm": False, **side["net"]}
    same_variant = stamp.get("variant", type(model).__name__) == type(model).__name__
    same_data = stamp.get("data") in (None, getattr(datamodule, "name", None))
    if not (same_variant and same_data and ours == theirs):
        differs = [f"{key}.{sub}: {theirs[key].get(sub)!r} -> {ours[key].get(sub)!r}"
                   for key in ours if isinstance(ours[key], dict) and isinstance(theirs[key], dict)
                   for sub in sorted({*ours[key], *theirs[key]}) if ours[key].get(sub) != theirs[key].get(sub)]
        differs += [key for key in ours if ours[key] != theirs[key] and not isinstance(ours[key], dict)]
        detail = f" (they differ in {'; '.join(differs)})" if differs else ""
        raise ConfigError(
            f"ckpt_path={path} holds {describe(stamp.get('variant'), hparams, stamp.get('data'))}, but this run is "
            f"{describe(type(model).__name__, model.hparams, getattr(datamodule, 'name', None))}{detail}: "
            f"resume with resume=<run directory>, which reuses that run's config, or give the same model, net "
            f"and data overrides.")


def load_generator(path: str | Path, ema: bool = True, device: str = "cpu") -> tuple[nn.Module, dict]:
    """G (the EMA one if asked and present) from a gan_lightning checkpoint, in eval mode, and its
    hparams; a conditional G (hparams num_classes, class_names) takes (z, labels)."""
    checkpoint = read_checkpoint(path)
    hparams, state = checkpoint["hyper_parameters"], checkpoint["state_dict"]
    generator, _ = build_nets(hparams["net"], hparams["image_shape"], hparams["latent_dim"],
                              num_classes=hparams.get("num_classes"))
    prefix = "generator_ema." if ema and any(k.startswith("generator_ema.") for k in state) else "generator."
    generator.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return generator.eval().to(device), hparams
