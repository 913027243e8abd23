"""view=interpolation: walks through the latent space (and, for a conditional run, between
classes), as rows of images and as an animated GIF.

Each row goes from one random latent to another along the great circle (slerp), the path that
keeps Gaussian latents at a typical norm; a smooth walk, with no sudden change of image, is the
sign of a generator that learned a continuous map rather than a lookup of memorised images
(Radford et al. 2016, §6.1). The printed numbers are the root-mean-square pixel change between
neighbouring images of a row: its mean, and its largest as a share of the mean (a jump shows as
a large share).
"""

from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lightning.nets.conditional import with_class_weights
from gan_lightning.sample.arguments import psi
from gan_lightning.sample.latents import generate, slerp, truncated
from gan_lightning.sample.output import PICTURES, beside, check_out, refuse_what_does_not_fit, write
from gan_lightning.sample.picture import labelled_grid, to_frames

WALK_POINTS = 4           # the animated walk loops through this many random latents
FRAME_MILLISECONDS = 80


@torch.no_grad()
def class_walks(generator: nn.Module, classes: int, z: Tensor, start: Tensor, end: Tensor, steps: int) -> Tensor:
    """(rows, steps, C, H, W): each row keeps its latent and blends class start[r] into end[r]."""
    eye = torch.eye(classes, device=z.device)
    t = torch.linspace(0, 1, steps, device=z.device)[None, :, None]
    weights = (1 - t) * eye[start][:, None] + t * eye[end][:, None]  # (rows, steps, classes)
    latents = z[:, None].expand(-1, steps, -1)
    images = with_class_weights(generator, latents.flatten(0, 1), weights.flatten(0, 1))
    return images.float().cpu().unflatten(0, (len(z), steps))


def step_changes(rows: Tensor) -> tuple[float, float]:
    """(mean, largest / mean) RMS pixel change between neighbouring images of each row."""
    change = (rows[:, 1:] - rows[:, :-1]).pow(2).flatten(2).mean(2).sqrt()
    mean = float(change.mean())
    return mean, float(change.max()) / max(mean, 1e-12)


def draw(args: dict, generator: nn.Module, hparams: dict, device: str) -> str:
    out, shape = Path(args["out"]), hparams["image_shape"]
    rows, steps = args["rows"], args["steps"]
    check_out(out, PICTURES, "a picture; the animated walk goes beside it as a .gif", (beside(out, "_walk.gif"),))
    classes = hparams.get("class_names")
    key = f"rows={rows} or steps={steps}"
    refuse_what_does_not_fit(rows * steps * (2 if classes else 1), shape, grid=True, key=key, labelled=True,
                             columns=("steps", steps, steps))
    refuse_what_does_not_fit(WALK_POINTS * steps * rows, shape, grid=True, key=key)
    ends = truncated(torch.randn(2, rows, hparams["latent_dim"], device=device), psi(args))
    t = torch.linspace(0, 1, steps, device=device)
    labels = None if classes is None else torch.randint(len(classes), (rows,), device=device)
    walk_labels = None if labels is None else labels.repeat_interleave(steps)
    images = generate(generator, slerp(ends[0], ends[1], t).flatten(0, 1), args["batch_size"], walk_labels)
    images = images.unflatten(0, (rows, steps))
    row_labels = None if classes is None else [classes[k] for k in labels.tolist()]
    mean, largest = step_changes(images)
    if classes is not None:  # then the same kind of rows between two classes, the latent held
        start, end = labels, (labels + torch.randint(1, len(classes), (rows,), device=device)) % len(classes)
        images = torch.cat([images, class_walks(generator, len(classes), ends[0], start, end, steps)])
        row_labels += [f"{classes[a]} > {classes[b]}" for a, b in zip(start.tolist(), end.tolist())]
    picture = labelled_grid(images, row_labels, [f"{x:.2f}".rstrip("0").rstrip(".") for x in t.tolist()])

    # the walk: each of `rows` samples loops through WALK_POINTS latents, `steps` frames a leg
    points = truncated(torch.randn(WALK_POINTS, rows, hparams["latent_dim"], device=device), psi(args))
    legs = [slerp(points[i], points[(i + 1) % WALK_POINTS], t[:-1]) for i in range(WALK_POINTS)]  # t=1 starts the next
    path = torch.cat(legs, dim=1)  # (rows, frames, dim)
    frames = generate(generator, path.transpose(0, 1).flatten(0, 1), args["batch_size"],
                      None if labels is None else labels.repeat(path.shape[1]))
    gif = to_frames(frames.unflatten(0, (path.shape[1], rows)), nrow=min(rows, 8))
    walk = beside(out, "_walk.gif")

    def save(path_: Path) -> None:
        picture.save(path_)
        gif[0].save(walk, save_all=True, append_images=gif[1:], duration=FRAME_MILLISECONDS, loop=0)

    write(out, save)
    kind = f"{rows} latent walk{'s' * (rows > 1)}" + (f" and {rows} class walk{'s' * (rows > 1)}" if classes else "")
    return (f"wrote {out} ({kind} of {steps} steps) and {walk} ({len(gif)} frames); RMS pixel change per step of the latent walks: "
            f"mean {mean:.3f}, largest {largest:.1f}x the mean")
