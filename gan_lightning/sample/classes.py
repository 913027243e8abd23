"""view=classes: one row per class of a conditional run, each row the same latents, the class
names written beside the rows (the per-class grid of conditional GAN papers, e.g. Miyato &
Koyama 2018, Fig. 4): a class the generator ignores, or two it confuses, shows at a glance."""

from pathlib import Path

import torch
from torch import nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets.conditional import per_class
from gan_lightning.sample.arguments import psi
from gan_lightning.sample.latents import generate, truncated
from gan_lightning.sample.output import PICTURES, check_out, refuse_what_does_not_fit, write
from gan_lightning.sample.picture import labelled_grid

COLUMNS = 8


def draw(args: dict, generator: nn.Module, hparams: dict, device: str) -> str:
    out, names = Path(args["out"]), hparams.get("class_names")
    if names is None:
        raise ConfigError(f"ckpt={args['ckpt']} was trained without conditional=true, so it has no classes to show "
                          f"a row of: view=classes needs a run trained with conditional=true (view=grid draws "
                          f"this one's samples).")
    check_out(out, PICTURES, "a picture")
    columns = args["nrow"] or COLUMNS
    refuse_what_does_not_fit(len(names) * columns, hparams["image_shape"], grid=True, key="nrow", labelled=True,
                             columns=("nrow", columns, columns))
    latents = truncated(torch.randn(columns, hparams["latent_dim"], device=device), psi(args))
    noise, labels = per_class(latents, len(names))
    images = generate(generator, noise, args["batch_size"], labels).unflatten(0, (len(names), columns))
    picture = labelled_grid(images, [name if name == str(k) else f"{k}: {name}" for k, name in enumerate(names)])
    write(out, picture.save)
    return f"wrote {out} ({len(names)} classes, one a row, {columns} samples each, the same latents in every row)"
