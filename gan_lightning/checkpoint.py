"""Reading a gan_lightning checkpoint without Hydra, the training config or the variant's class."""

from pathlib import Path

import torch
from torch import nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets import build_nets


def load_generator(path: str | Path, ema: bool = True, device: str = "cpu") -> tuple[nn.Module, dict]:
    """G (the EMA one if asked and present) from a gan_lightning checkpoint, in eval mode, and its hparams."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt={path} does not exist.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(f"{path} is not a gan_lightning checkpoint: PyTorch cannot read it as one "
                          f"({type(err).__name__}).") from err
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    state = checkpoint.get("state_dict", {}) if isinstance(checkpoint, dict) else {}
    if not {"net", "image_shape", "latent_dim"} <= set(hparams) or not any(k.startswith("generator.") for k in state):
        raise ConfigError(f"{path} is not a gan_lightning checkpoint: it has no generator weights and net, "
                          f"image_shape, latent_dim hyperparameters.")
    generator, _ = build_nets(hparams["net"], hparams["image_shape"], hparams["latent_dim"])
    prefix = "generator_ema." if ema and any(k.startswith("generator_ema.") for k in state) else "generator."
    generator.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return generator.eval().to(device), hparams
