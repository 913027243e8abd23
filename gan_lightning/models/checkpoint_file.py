"""Reading a gan_lightning checkpoint file without Hydra, the training config or the variant's
class: the generator and its hyperparameters (the sampling CLI, evaluate_checkpoint, resume)."""

from pathlib import Path

import torch
from torch import nn

from gan_lightning import __version__
from gan_lightning.errors import ConfigError
from gan_lightning.nets import build_nets

# What a checkpoint's layout is: raised when it changes, so a checkpoint is read only by code that knows it.
CHECKPOINT_FORMAT = 1


def refuse_other_format(checkpoint: dict, what: str) -> None:
    """A ConfigError naming the format a gan_lightning checkpoint was written in, unless it is this version's."""
    written = checkpoint.get("gan_lightning", {}).get("format")
    if written != CHECKPOINT_FORMAT:
        kind = f"format {written}" if written is not None else "a development format from before formats were numbered"
        raise ConfigError(f"{what} is in checkpoint {kind}, and this gan_lightning ({__version__}) reads format "
                          f"{CHECKPOINT_FORMAT} only: load it with the gan_lightning that wrote it, or train again.")


def read_checkpoint(path: str | Path, key: str = "ckpt") -> dict:
    """The checkpoint at `path` (`key=path` on the command line), or a ConfigError saying what is wrong."""
    path = Path(path).expanduser()
    if path.is_dir():
        inside = path / "last.ckpt" if path.name == "checkpoints" else path / "checkpoints" / "last.ckpt"
        raise ConfigError(f"{key}={path} is a directory: give a checkpoint file in it, e.g. {key}={inside}.")
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
    refuse_other_format(checkpoint, f"{key}={path}")
    return checkpoint


def describe(variant: str | None, hparams: dict, data: str | None) -> str:
    """'DCGAN with net=dcgan on 1x28x28 images of mnist5k' (the parts that are known), and
    ', conditional on 10 classes' for a conditional one."""
    shape = "x".join(str(side) for side in hparams["image_shape"])
    text = f"{variant or 'a model'} with net={hparams['net'].get('name')} on {shape} images"
    text += f" of {data}" if data else ""
    return text + (f", conditional on {len(hparams['class_names'])} classes" if hparams.get("class_names") else "")


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
