"""What each quality metric costs per evaluation: seconds for 2,000 generated digits against
2,000 real ones (the callback's default), on the digit classifier's features.

    python benchmarks/metrics_cost.py [--samples 2000] [--repeats 3]

The feature pass (G's samples through the classifier) is shared by every metric; the rest is
each metric's own computation on those features. Prints the median of `--repeats` rounds.
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from gan_lightning.data import MNIST5kDataModule, to_signed_unit
from gan_lightning.metrics.classifier import load_classifier
from gan_lightning.metrics.features import ClassifierExtractor
from gan_lightning.metrics.manifold import precision_recall_density_coverage
from gan_lightning.metrics.quality import METRICS, QualityMeter
from gan_lightning.nets import build_nets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = MNIST5kDataModule()
    data.setup("fit")
    extractor = ClassifierExtractor(load_classifier(Path("data/classifiers/mnist5k.pt")))
    meter = QualityMeter(extractor, METRICS)
    meter.to("cpu").add_real(data.real_images(args.samples))
    generator, _ = build_nets({"name": "dcgan", "g_features": 32, "d_features": 32}, [1, 28, 28], 100, "batch", None)
    generator.eval()
    times: dict[str, list[float]] = {}

    def timed(name, work):
        start = time.perf_counter()
        result = work()
        times.setdefault(name, []).append(time.perf_counter() - start)
        return result

    for _ in range(args.repeats):
        with torch.no_grad():
            fake = timed("samples and features (shared)", lambda: torch.cat(
                [extractor(generator(torch.randn(500, 100))) for _ in range(args.samples // 500)]))
            fake = fake * 0.5 + extractor(to_signed_unit(data.real_images(args.samples, seed=1))) * 0.5
            meter.fid.update(fake, real=False)
            timed("fid", meter.fid.compute)
            meter.fid.reset()
            meter.kid.update(fake, real=False)
            timed("kid (50 subsets of 1,000)", meter.kid.compute)
            meter.kid.reset()
            logits = extractor.logits(fake)
            meter.inception_score.update(logits)
            timed("is (10 splits)", meter.inception_score.compute)
            meter.inception_score.reset()
            timed("precision, recall, density, coverage (k 3 and 5)",
                  lambda: precision_recall_density_coverage(meter.real_features, fake))
    print(f"{args.samples} generated vs {args.samples} real digits, classifier features (128-d), "
          f"{torch.get_num_threads()} threads; median of {args.repeats}\n")
    print("| step | seconds |\n|---|---:|")
    for name, seconds in times.items():
        print(f"| {name} | {statistics.median(seconds):.3f} |")


if __name__ == "__main__":
    main()
