"""view=grid (the default): random samples as an image grid, or many as an .npz array."""

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from gan_lightning.data import to_uint8
from gan_lightning.errors import ConfigError
from gan_lightning.nets.conditional import per_class
from gan_lightning.sample.arguments import class_index, psi
from gan_lightning.sample.latents import generate, truncated
from gan_lightning.sample.output import PICTURES, check_out, refuse_what_does_not_fit, write

# Columns of a conditional grid with one row per class, unless nrow= says otherwise.
CLASS_GRID_COLUMNS = 8
# Digits padded to this size (data.image_size=32) are 28 pixels inside: what crop= would offer.
PADDED_DIGITS, DIGITS = [1, 32, 32], 28


def inputs(args: dict, hparams: dict, device: str) -> tuple[Tensor, Tensor | None, int]:
    """(noise, class labels or None, grid columns) for what `args` ask of this checkpoint."""
    latent_dim, classes = hparams["latent_dim"], hparams.get("num_classes")
    label = class_index(args["label"], hparams, args["ckpt"])
    if classes is not None and label is None and not args["out"].lower().endswith(".npz"):  # one row per class
        columns = args["nrow"] or CLASS_GRID_COLUMNS
        print("rows, top to bottom: " + ", ".join(f"{k}: {name}" for k, name in enumerate(hparams["class_names"])))
        return *per_class(torch.randn(columns, latent_dim, device=device), classes), columns
    noise = torch.randn(args["n"], latent_dim, device=device)
    labels = None
    if classes is not None:  # the label asked for, else uniformly random classes
        labels = (torch.full((args["n"],), label, device=device) if label is not None
                  else torch.randint(classes, (args["n"],), device=device))
    return noise, labels, args["nrow"] or math.ceil(math.sqrt(args["n"]))


def cropped(images: Tensor, crop: int | None, image_shape: list[int]) -> Tensor:
    """The central crop x crop pixels of each image (crop=None: the images as drawn)."""
    if crop is None:
        return images
    size = min(image_shape[1:])
    if not 1 <= crop <= size:
        raise ConfigError(f"crop={crop} does not fit the checkpoint's {'x'.join(map(str, image_shape[1:]))} images: "
                          f"use 1 to {size}{f', e.g. crop={DIGITS} for digits padded to 32' if size == 32 else ''}.")
    top, left = (image_shape[1] - crop) // 2, (image_shape[2] - crop) // 2
    return images[..., top:top + crop, left:left + crop]


def draw(args: dict, generator: nn.Module, hparams: dict, device: str) -> str:
    out, shape = Path(args["out"]), hparams["image_shape"]
    check_out(out, (*PICTURES, ".npz"), "an image grid, or .npz for an array of images")
    npz = out.suffix.lower() == ".npz"
    nrow = args["nrow"]
    refuse_what_does_not_fit(args["n"], shape, grid=not npz,
                             columns=None if nrow is None else ("nrow", nrow, min(nrow, args["n"])))
    cropped(torch.empty(0, *shape), args["crop"], shape)  # refused before drawing
    if list(shape) == PADDED_DIGITS and args["crop"] is None and npz:
        print(f"These are 1x32x32 images: if they are digits padded by data.image_size=32 (model=quickstart), "
              f"crop={DIGITS} writes the {DIGITS}-pixel digits that MNIST tools score.")
    noise, labels, nrow = inputs(args, hparams, device)
    images = generate(generator, truncated(noise, psi(args)), args["batch_size"], labels)
    images = cropped(images, args["crop"], shape)

    def save(path: Path) -> None:
        if npz:
            arrays = {"arr_0": to_uint8(images).permute(0, 2, 3, 1).numpy()}
            if labels is not None:
                arrays["labels"] = labels.cpu().numpy()
            np.savez_compressed(path, **arrays)
        else:
            save_image(make_grid(images, nrow=nrow, normalize=True, value_range=(-1, 1)), path)

    write(out, save)
    return f"wrote {out}"
