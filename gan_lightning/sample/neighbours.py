"""view=neighbours: each of `rows` samples beside its k nearest training images in the metric's
feature space, with the distances, and two memorisation numbers (metrics/memorisation.py)
over `num_samples` samples: the copy share, and Meehan et al.'s C_T where the run has
held-out real images (data.limit). A reviewer's question, "does it copy its training set?",
answered with a picture (as in StudioGAN's k-NN analysis, k = 7) and a number with a reference.
"""

from pathlib import Path

import torch
from torch import nn

from gan_lightning.data import to_signed_unit
from gan_lightning.errors import ConfigError
from gan_lightning.metrics import memorisation
from gan_lightning.sample.arguments import psi
from gan_lightning.sample.latents import generate, truncated
from gan_lightning.sample.output import PICTURES, check_out, refuse_what_does_not_fit, write
from gan_lightning.sample.picture import labelled_grid
from gan_lightning.sample.real_data import RunData, features_of

ORDINALS = ("1st", "2nd", "3rd")


def memorisation_line(samples, train, heldout) -> str:
    """The copy share (with its reference) and C_T, each with a verdict."""
    threshold = memorisation.copy_threshold(train)
    share = memorisation.copy_share(samples, train, threshold)
    if heldout is not None:
        reference = f"held-out real images: {memorisation.copy_share(heldout, train, threshold):.1%}"
    else:
        reference = f"real images: {memorisation.COPY_QUANTILE:.0%} by construction"
    verdict = "copies training images" if share >= memorisation.COPYING_SHARE else "no sign of copying"
    line = f"copy share {share:.1%} ({reference}): {verdict}"
    if heldout is None:
        return line + "; C_T needs real images the run did not train on (train with data.limit=N to keep some)"
    if len(heldout) < 4 * memorisation.MIN_PER_CELL:
        return line + (f"; C_T needs {4 * memorisation.MIN_PER_CELL} or more held-out images and this run kept "
                       f"{len(heldout)} (a lower data.limit keeps more)")
    half = len(heldout) // 2  # one half is the test set; the other, scored as samples, is the reference
    ct = memorisation.data_copying_ct(samples, train, heldout[:half])
    ct_real = memorisation.data_copying_ct(heldout[half:], train, heldout[:half])
    verdict = ("copying" if ct < memorisation.COPYING_CT else "underfitting, samples farther than real images"
               if ct > -memorisation.COPYING_CT else "no sign of copying")
    return line + f"; C_T {ct:+.2f} (held-out real images: {ct_real:+.2f}): {verdict}"


def draw(args: dict, generator: nn.Module, hparams: dict, device: str) -> str:
    out, shape, k = Path(args["out"]), hparams["image_shape"], args["k"]
    check_out(out, PICTURES, "a picture")
    refuse_what_does_not_fit(args["num_samples"], shape, grid=False, key="num_samples")
    classes = hparams.get("class_names")
    data = RunData(args["ckpt"], "neighbours", conditional=classes is not None)
    train_images = data.training_images
    if k > len(train_images):
        raise ConfigError(f"k={k} is more than the {len(train_images)} images the run trained on: use k="
                          f"{len(train_images)} or fewer (7 is StudioGAN's).")
    refuse_what_does_not_fit(args["rows"] * (k + 1), shape, grid=True, key=f"rows={args['rows']} or k={k}",
                             labelled=True, columns=("k", k, k + 1))
    extractor = data.extractor(shape, device, args["inception_weights"])
    train = features_of(extractor, train_images, args["batch_size"], device)
    heldout = data.heldout_images()
    heldout = None if heldout is None else features_of(extractor, heldout, args["batch_size"], device)

    count = max(args["rows"], args["num_samples"])
    noise = truncated(torch.randn(count, hparams["latent_dim"], device=device), psi(args))
    labels = None if classes is None else data.datamodule.draw_labels(count).to(device)
    images = generate(generator, noise, args["batch_size"], labels)
    samples = features_of(extractor, images, args["batch_size"], device, signed=True)

    distances, indices = memorisation.nearest_neighbours(samples[:args["rows"]], train, k)
    shown = torch.cat([images[:args["rows"], None], to_signed_unit(train_images[indices])], dim=1)
    captions = [["sample"] + [f"{d:.2f}" for d in row.tolist()] for row in distances]
    columns = [""] + [ORDINALS[i] if i < 3 else f"{i + 1}th" for i in range(k)]
    rows = None if labels is None else [classes[k] for k in labels[:args["rows"]].tolist()]  # the class asked for
    picture = labelled_grid(shown, row_labels=rows, column_labels=columns, captions=captions)
    write(out, picture.save)
    line = memorisation_line(samples[:args["num_samples"]], train, heldout)
    return f"wrote {out} ({args['rows']} samples, each beside its {k} nearest of {len(train)} training images); {line}"
