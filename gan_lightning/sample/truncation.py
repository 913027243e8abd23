"""view=truncation: the same latents at several truncation levels side by side, and the
precision, recall and FID of each level as a table and a curve.

Truncation pulls the latents toward their mean, z -> psi z (the truncation trick: Brock et al.
2019 resample large values; StyleGAN's psi, Karras et al. 2019, scales toward the mean, as here).
Tighter truncation trades variety for typical images: precision (the share of samples inside
the real images' manifold) rises and recall (the share of real images inside the samples')
falls (Kynkäänniemi et al. 2019, Fig. 8). The numbers are the in-run metrics' (metrics/quality.py),
on the same features, with `num_samples` samples a level against as many of the run's images.
"""

from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lightning.metrics.quality import QualityMeter
from gan_lightning.nets.conditional import with_labels
from gan_lightning.sample.latents import generate, truncated
from gan_lightning.sample.output import PICTURES, beside, check_out, refuse_what_does_not_fit, write
from gan_lightning.sample.picture import labelled_grid
from gan_lightning.sample.real_data import RunData

MEASURED = ("fid", "precision", "recall")


def measure_levels(generator: nn.Module, levels: tuple[float, ...], noise: Tensor, labels: Tensor | None,
                   meter: QualityMeter) -> list[dict[str, float]]:
    """FID, precision and recall of G's images of `noise` (the same latents at every level) truncated to each level."""
    results = []
    for psi in levels:
        chunks = iter(zip(truncated(noise, psi).split(meter.batch_size),
                          [None] * len(noise) if labels is None else labels.split(meter.batch_size)))

        def sample(n: int, labels=None, chunks=chunks) -> Tensor:  # this level's next chunk of latents
            z, y = next(chunks)
            return with_labels(generator, z, y)

        values = meter.measure(sample, len(noise))
        results.append({name: values[f"val/{name}"] for name in MEASURED})
    return results


def plot(levels: tuple[float, ...], results: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.5))
    for name, marker in (("precision", "o"), ("recall", "s")):
        axes.plot(levels, [r[name] for r in results], marker=marker, label=name)
    axes.set_xlabel("truncation psi (1: none)")
    axes.set_ylim(0, 1.02)
    axes.invert_xaxis()  # tighter to the right
    axes.grid(alpha=0.3)
    fid = axes.twinx()
    fid.plot(levels, [r["fid"] for r in results], color="grey", linestyle="--", marker="^", label="FID")
    fid.set_ylabel("FID")
    lines = axes.get_legend_handles_labels()[0] + fid.get_legend_handles_labels()[0]
    figure.tight_layout(rect=(0, 0, 1, 0.92))
    figure.legend(lines, ["precision", "recall", "FID (right axis)"], loc="upper center", ncol=3, fontsize=8,
                  frameon=False)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def draw(args: dict, generator: nn.Module, hparams: dict, device: str) -> str:
    out, shape, levels = Path(args["out"]), hparams["image_shape"], args["truncation"]
    check_out(out, PICTURES, "a picture; the precision and recall curve goes beside it",
              (beside(out, "_curve.png"),))
    refuse_what_does_not_fit(args["rows"] * len(levels), shape, grid=True, key="rows", labelled=True)
    refuse_what_does_not_fit(args["num_samples"], shape, grid=False, key="num_samples")
    classes = hparams.get("class_names")
    data = RunData(args["ckpt"], "truncation", conditional=classes is not None)
    meter = QualityMeter(data.extractor(shape, device, args["inception_weights"]), MEASURED, batch_size=args["batch_size"]).to(device)

    shown = torch.randn(args["rows"], hparams["latent_dim"], device=device)
    shown_labels = None if classes is None else torch.randint(len(classes), (args["rows"],), device=device)
    images = torch.stack([generate(generator, truncated(shown, psi), args["batch_size"], shown_labels)
                          for psi in levels], dim=1)
    picture = labelled_grid(images, None if classes is None else [classes[k] for k in shown_labels.tolist()],
                            [f"psi {psi:g}" for psi in levels])

    meter.add_real(data.datamodule.real_images(args["num_samples"], seed=0))
    noise = torch.randn(args["num_samples"], hparams["latent_dim"], device=device)
    labels = None if classes is None else data.datamodule.draw_labels(args["num_samples"]).to(device)
    with torch.no_grad():
        results = measure_levels(generator, levels, noise, labels, meter)
    curve = beside(out, "_curve.png")

    def save(path: Path) -> None:
        picture.save(path)
        plot(levels, results, curve)

    write(out, save)
    print(f"{'psi':>5} {'precision':>9} {'recall':>6} {'FID':>7}   ({args['num_samples']} samples a level)")
    for psi, r in zip(levels, results):
        print(f"{psi:>5g} {r['precision']:>9.3f} {r['recall']:>6.3f} {r['fid']:>7.2f}")
    numbers = "; ".join(f"psi {psi:g}: P {r['precision']:.2f} R {r['recall']:.2f}" for psi, r in zip(levels, results))
    return f"wrote {out} and {curve}: {numbers}"
