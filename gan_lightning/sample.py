"""Images from a checkpoint, without the training config (everything needed is in the checkpoint).

    python -m gan_lightning.sample ckpt=outputs/.../checkpoints/best.ckpt n=64 out=grid.png seed=3
    python -m gan_lightning.sample ckpt=... mode=interpolate rows=8 steps=10 out=interp.png
    python -m gan_lightning.sample ckpt=... n=10000 out=samples.npz   # uint8 NHWC under arr_0
    python -m gan_lightning.sample ckpt=... n=10000 out=digits.npz crop=28   # 28-pixel digits of a 32-pixel run

A conditional checkpoint (trained with conditional=true):
    python -m gan_lightning.sample ckpt=... label=7 n=64 out=sevens.png   # 64 images of class 7
    python -m gan_lightning.sample ckpt=... out=classes.png   # one row per class (names printed)

Keys: ckpt (required), n (64), out (samples.png; .png/.jpg = a grid, .npz = an array), seed,
mode (grid | interpolate), rows (8), steps (10), nrow (grid columns), ema (true: use the EMA
generator when the checkpoint has one), device (auto | cpu | cuda | cuda:1 ...), label (a
class index or name; without it a conditional grid has one row per class, nrow (8) columns,
and an .npz gets n images of uniformly random classes, their labels under `labels`), crop (the
central crop x crop pixels of each image: a run on digits padded to 32 pixels,
data.image_size=32 as model=quickstart's, draws 32-pixel images, and crop=28 takes the 2-pixel
padding off for tools that score MNIST at 28 pixels).
"""

import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from gan_lightning.data import to_uint8
from gan_lightning.errors import ConfigError, one_line_errors
from gan_lightning.models.checkpoint_file import load_generator
from gan_lightning.nets.conditional import per_class, with_labels
from gan_lightning.run.signals import stop_at_once

DEFAULTS = {"ckpt": None, "n": 64, "out": "samples.png", "seed": None, "mode": "grid", "rows": 8, "steps": 10,
            "nrow": None, "ema": True, "device": "auto", "batch_size": 500, "label": None, "crop": None}
# Columns of a conditional grid with one row per class, unless nrow= says otherwise.
CLASS_GRID_COLUMNS = 8
TYPES = {"n": int, "seed": int, "rows": int, "steps": int, "nrow": int, "batch_size": int, "crop": int}
# Digits padded to this size (data.image_size=32) are 28 pixels inside: what crop= would offer.
PADDED_DIGITS, DIGITS = [1, 32, 32], 28


def parse_args(argv: list[str]) -> dict:
    args = dict(DEFAULTS)
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULTS:
            raise ConfigError(f"Unknown argument {item!r}: use key=value with keys {', '.join(DEFAULTS)}.")
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
    for key in ("n", "rows", "steps", "batch_size"):
        if args[key] < 1 or (key == "steps" and args[key] < 2):
            raise ConfigError(f"{key}={args[key]} is too small: use {key}={2 if key == 'steps' else 1} or more "
                              f"(defaults: n=64, rows=8, steps=10, batch_size=500).")
    if args["nrow"] is not None and args["nrow"] < 1:
        raise ConfigError(f"nrow={args['nrow']} is too small: a grid has at least one column, e.g. nrow=8.")
    if args["mode"] not in ("grid", "interpolate"):
        raise ConfigError(f"mode={args['mode']!r} is not a mode: use grid or interpolate.")
    return args


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation: keeps Gaussian latents at a typical norm along the path."""
    omega = torch.arccos((a / a.norm(dim=-1, keepdim=True) * b / b.norm(dim=-1, keepdim=True)).sum(-1).clamp(-1, 1))
    omega, t = omega[:, None, None], t[None, :, None]
    so = torch.sin(omega).clamp_min(1e-8)
    return torch.sin((1 - t) * omega) / so * a[:, None] + torch.sin(t * omega) / so * b[:, None]


@torch.no_grad()
def generate(generator: nn.Module, noise: Tensor, batch_size: int, labels: Tensor | None = None) -> Tensor:
    chunks = labels.split(batch_size) if labels is not None else [None] * len(noise.split(batch_size))
    return torch.cat([with_labels(generator, z, y) for z, y in zip(noise.split(batch_size), chunks)]).float().cpu()


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
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device={name} but PyTorch sees {torch.cuda.device_count()} CUDA GPUs on this machine: "
                          f"use device=cpu (or device=auto).")
    return name


def inputs(args: dict, hparams: dict, device: str) -> tuple[Tensor, Tensor | None, int]:
    """(noise, class labels or None, grid columns) for what `args` ask of this checkpoint."""
    latent_dim, classes = hparams["latent_dim"], hparams.get("num_classes")
    label = class_index(args["label"], hparams, args["ckpt"])

    def class_labels(n: int) -> Tensor | None:  # the label asked for, else uniformly random classes
        if classes is None:
            return None
        return torch.full((n,), label, device=device) if label is not None else torch.randint(classes, (n,), device=device)

    if args["mode"] == "interpolate":  # a conditional row keeps one class along its path
        ends = torch.randn(2, args["rows"], latent_dim, device=device)
        noise = slerp(ends[0], ends[1], torch.linspace(0, 1, args["steps"], device=device)).flatten(0, 1)
        labels = class_labels(args["rows"])
        return noise, None if labels is None else labels.repeat_interleave(args["steps"]), args["steps"]
    if classes is not None and label is None and not args["out"].lower().endswith(".npz"):  # one row per class
        columns = args["nrow"] or CLASS_GRID_COLUMNS
        print("rows, top to bottom: " + ", ".join(f"{k}: {name}" for k, name in enumerate(hparams["class_names"])))
        return *per_class(torch.randn(columns, latent_dim, device=device), classes), columns
    noise = torch.randn(args["n"], latent_dim, device=device)
    return noise, class_labels(args["n"]), args["nrow"] or math.ceil(math.sqrt(args["n"]))


def refuse_what_does_not_fit(n: int, image_shape: list[int], out: Path) -> None:
    """The images are made in memory (float32) before they are written, a grid several times over
    (the grid, its 8-bit copy, the encoder's): refuse a number that cannot fit, and a grid larger
    than image viewers (and PIL, Image.MAX_IMAGE_PIXELS) open."""
    grid = out.suffix.lower() != ".npz"
    if grid and n * math.prod(image_shape[1:]) > Image.MAX_IMAGE_PIXELS:
        fits = Image.MAX_IMAGE_PIXELS // math.prod(image_shape[1:])
        raise ConfigError(f"A grid of n={n} images of {'x'.join(map(str, image_shape[1:]))} pixels would be "
                          f"{n * math.prod(image_shape[1:]) / 1e6:.0f} megapixels, more than image viewers open: "
                          f"use n={fits} or fewer, or out=samples.npz for many images.")
    needed = n * math.prod(image_shape) * 4 * (4 if grid else 1)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > available // 2:
        fits = max(1, available // 2 // (math.prod(image_shape) * 4))
        raise ConfigError(f"n={n} images of {'x'.join(map(str, image_shape))} need {needed / 1e9:.1f} GB of memory, "
                          f"more than half of the {available / 1e9:.1f} GB available: draw at most n={fits} at once "
                          f"(several files, each with its own seed=, give more).")


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


def run(args: dict) -> Path:
    device = resolve_device(args["device"])
    generator, hparams = load_generator(args["ckpt"], args["ema"], device)
    out = Path(args["out"])
    if out.suffix.lower() not in (".npz", ".png", ".jpg", ".jpeg"):
        raise ConfigError(f"out={out} must end in .png, .jpg (an image grid) or .npz (an array of images).")
    refuse_what_does_not_fit(args["n"] if args["mode"] == "grid" else args["rows"] * args["steps"],
                             hparams["image_shape"], out)
    cropped(torch.empty(0, *hparams["image_shape"]), args["crop"], hparams["image_shape"])  # refused before drawing
    if list(hparams["image_shape"]) == PADDED_DIGITS and args["crop"] is None and out.suffix.lower() == ".npz":
        print(f"These are 1x32x32 images: if they are digits padded by data.image_size=32 (model=quickstart), "
              f"crop={DIGITS} writes the {DIGITS}-pixel digits that MNIST tools score.")
    if args["seed"] is not None:
        torch.manual_seed(args["seed"])
    noise, labels, nrow = inputs(args, hparams, device)
    images = cropped(generate(generator, noise, args["batch_size"], labels), args["crop"], hparams["image_shape"])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".npz":
            arrays = {"arr_0": to_uint8(images).permute(0, 2, 3, 1).numpy()}
            if labels is not None:
                arrays["labels"] = labels.cpu().numpy()
            np.savez_compressed(out, **arrays)
        else:
            save_image(make_grid(images, nrow=nrow, normalize=True, value_range=(-1, 1)), out)
    except OSError as err:
        raise ConfigError(f"out={out} cannot be written ({err.strerror}): give a path in a writable folder.") from err
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__.strip())
        return
    stop_at_once("while drawing samples: nothing more was written")  # Ctrl-C: one line and exit 130
    with one_line_errors("gan_lightning.sample"):
        out = run(parse_args(argv))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
