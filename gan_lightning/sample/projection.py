"""view=projection image=PATH: the latent whose image is nearest a given real image, found by
gradient descent on the pixel error (GAN inversion, as in Zhu et al. 2016 and StyleGAN2's
projector, Karras et al. 2020 §5), shown beside the image with the error.

Several random starts run at once (and, for a conditional run given no label=, every class at
once); the best end point wins. A real image the generator can reproduce closely is one it can
represent; a large error on training images is a sign of dropped modes. The latent (and class)
is written beside the picture as an .npz, for sampling around it.
"""

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor, nn

from gan_lightning.data import to_signed_unit
from gan_lightning.errors import ConfigError
from gan_lightning.sample.arguments import class_index
from gan_lightning.sample.output import PICTURES, beside, check_out, write
from gan_lightning.sample.picture import labelled_grid

STARTS = 8            # random starting latents (per class, for a conditional run without label=)
LEARNING_RATE = 0.05  # Adam on z; about 0.1 of z's unit scale, halved over the last third


def read_image(path: str, shape: list[int]) -> Tensor:
    """The image at `path` as (1, C, H, W) in [-1, 1], in the checkpoint's channels and size: the
    shorter side resized to fit and the centre cropped (a 28-pixel digit for a 32-pixel run is padded)."""
    channels, height, width = shape
    try:
        with warnings.catch_warnings():  # a large image is read, then resized: PIL's bomb warning is noise
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(Path(path).expanduser()) as image:
                image = image.convert("L" if channels == 1 else "RGB")
    except Image.DecompressionBombError:
        raise ConfigError(f"image={path} has more pixels than PIL opens safely ({Image.MAX_IMAGE_PIXELS * 2:,}): "
                          f"give a smaller image (it is resized to {height}x{width} anyway).") from None
    except FileNotFoundError:
        raise ConfigError(f"image={path} does not exist: give the path of a PNG or JPEG image.") from None
    except (UnidentifiedImageError, OSError) as err:
        raise ConfigError(f"image={path} cannot be read as an image ({type(err).__name__}): give a PNG or JPEG.") from None
    if image.size == (28, 28) and (height, width) == (32, 32):  # an MNIST digit for a run on padded digits
        padded = Image.new(image.mode, (32, 32))
        padded.paste(image, (2, 2))
        image = padded
    scale = max(width / image.width, height / image.height)
    if image.size != (width, height):
        image = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))),
                             Image.BICUBIC)
        left, top = (image.width - width) // 2, (image.height - height) // 2
        image = image.crop((left, top, left + width, top + height))
    pixels = torch.from_numpy(np.asarray(image).copy())
    pixels = pixels[None] if pixels.ndim == 2 else pixels.permute(2, 0, 1)
    return to_signed_unit(pixels)[None]


def project(generator: nn.Module, target: Tensor, latent_dim: int, iterations: int,
            labels: Tensor | None = None, starts: int = STARTS) -> tuple[Tensor, Tensor | None, Tensor, float]:
    """(z, label or None, G's image, mean squared error) of the best of `starts` descents per label."""
    generator.requires_grad_(False)
    classes = labels.repeat_interleave(starts) if labels is not None else None
    z = torch.randn(len(classes) if classes is not None else starts, latent_dim, device=target.device,
                    requires_grad=True)
    optimizer = torch.optim.Adam([z], lr=LEARNING_RATE)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [2 * iterations // 3], gamma=0.5)
    for _ in range(iterations):
        optimizer.zero_grad(set_to_none=True)
        images = generator(z) if classes is None else generator(z, classes)
        (images.float() - target).pow(2).flatten(1).mean(1).sum().backward()
        optimizer.step()
        scheduler.step()
    with torch.no_grad():
        images = (generator(z) if classes is None else generator(z, classes)).float()
        errors = (images - target).pow(2).flatten(1).mean(1)
        best = int(errors.argmin())
    return z[best].detach(), None if classes is None else classes[best], images[best], float(errors[best])


def draw(args: dict, generator: nn.Module, hparams: dict, device: str) -> str:
    out, shape, names = Path(args["out"]), hparams["image_shape"], hparams.get("class_names")
    check_out(out, PICTURES, "a picture; the latent goes beside it as an .npz", (beside(out, "_latent.npz"),))
    target = read_image(args["image"], shape).to(device)
    labels = None
    if names is not None:
        label = class_index(args["label"], hparams, args["ckpt"])
        labels = torch.arange(len(names), device=device) if label is None else torch.tensor([label], device=device)
    elif args["label"] is not None:
        class_index(args["label"], hparams, args["ckpt"])  # the sentence for a checkpoint without classes
    z, label, image, error = project(generator, target, hparams["latent_dim"], args["iterations"], labels)
    psnr = 10 * math.log10(4 / max(error, 1e-12))  # pixels span [-1, 1]: a peak-to-peak of 2
    difference = (image - target[0]).abs() - 1  # |difference| on [0, 2], drawn on [-1, 1]
    picture = labelled_grid(torch.stack([target[0].cpu(), image.cpu(), difference.cpu()])[None],
                            column_labels=["image", "projection", "difference"],
                            captions=[["", f"MSE {error:.4f}", f"PSNR {psnr:.1f} dB"]])
    latent = beside(out, "_latent.npz")

    def save(path: Path) -> None:
        picture.save(path)
        arrays = {"z": z.cpu().numpy()}
        if label is not None:
            arrays["label"] = np.array(int(label))
        np.savez(latent, **arrays)

    write(out, save)
    chosen = f", class {names[int(label)]}" if label is not None else ""
    return (f"wrote {out} and {latent}: mean squared error {error:.4f} (PSNR {psnr:.1f} dB) after "
            f"{args['iterations']} steps{chosen}")
