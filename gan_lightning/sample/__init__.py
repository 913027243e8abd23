"""Images from a checkpoint, without the training config (everything needed is in the checkpoint;
the views that compare with real images read the run directory the checkpoint is in).

    python -m gan_lightning.sample ckpt=outputs/.../checkpoints/best.ckpt n=64 out=grid.png seed=3
    python -m gan_lightning.sample ckpt=... n=10000 out=samples.npz   # uint8 NHWC under arr_0
    python -m gan_lightning.sample ckpt=... n=10000 out=digits.npz crop=28   # 28-pixel digits of a 32-pixel run

The pictures papers show (docs/inspection.md), each one file and one line of numbers:
    python -m gan_lightning.sample ckpt=... view=interpolation    # latent walks (+ a .gif); class walks if conditional
    python -m gan_lightning.sample ckpt=... view=truncation       # psi 1, 0.8, 0.6, 0.4 side by side; precision/recall curve
    python -m gan_lightning.sample ckpt=... view=neighbours k=7   # samples beside nearest training images; copy share, C_T
    python -m gan_lightning.sample ckpt=... view=classes          # conditional: one labelled row per class
    python -m gan_lightning.sample ckpt=... view=projection image=digit.png   # the latent nearest a real image

A conditional checkpoint (trained with conditional=true):
    python -m gan_lightning.sample ckpt=... label=7 n=64 out=sevens.png   # 64 images of class 7
    python -m gan_lightning.sample ckpt=... out=classes.png   # one row per class (names printed)

Keys: ckpt (required), view (grid | interpolation | truncation | neighbours | classes |
projection), out (default: <view>.png, samples.png for the grid; .png/.jpg = a picture, .npz = an
array for the grid), n (64, the grid's images), seed, rows (8: walks, latents, samples shown),
steps (10: images a walk), nrow (grid columns), truncation (psi in (0, 1]: 0.7, or levels
1,0.8,0.6,0.4 for view=truncation), k (7 neighbours), num_samples (2000: the samples behind
the numbers), image (view=projection's image: a PNG or JPEG, e.g. a digit of your own),
iterations (300: projection's steps), inception_weights (a local Inception weights file for
the views that measure photos offline), ema (true: the
EMA generator when the checkpoint has one), device (auto | cpu | cuda | cuda:1 ...), batch_size
(500), label (a class index or name; without it a conditional grid has one row per class and an
.npz gets n images of uniformly random classes, their labels under `labels`), crop (the central
crop x crop pixels of each image: digits padded to 32 pixels, data.image_size=32 as
model=quickstart's, crop=28 takes the padding off for tools that score MNIST at 28 pixels).
"""

__all__ = ["main", "slerp"]


def main(argv: list[str] | None = None) -> None:
    from gan_lightning.sample.cli import main as sample

    sample(argv)


def __getattr__(name: str):
    # `from gan_lightning.sample import slerp` loads torch only then: `--help` and a Ctrl-C while
    # the libraries load stay cheap and clean (__main__.py)
    if name == "slerp":
        from gan_lightning.sample.latents import slerp

        return slerp
    raise AttributeError(name)
