"""FID/KID, class coverage and classifier score of run directories' checkpoints, measured the same way.

    python benchmarks/evaluate_runs.py outputs/benchmarks/quality_floor/* [--ckpt last] [--samples 2000]

Uses each run's data and its digit classifier (data/classifiers/<data>.pt), a fixed seed and
the same number of real and generated images, so the rows are comparable with each other.
"""

import argparse
import json

from gan_lightning.metrics import evaluate_checkpoint
from gan_lightning.run.directory import RunDir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--ckpt", choices=("best", "last"), default="last")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    for path in args.runs:
        run = RunDir(path)
        ckpt = run.checkpoint() if args.ckpt == "best" else run.path / "checkpoints" / "last.ckpt"
        numbers = evaluate_checkpoint(ckpt, run.datamodule(), classifier_path=run.classifier_path,
                                      num_samples=args.samples)
        print(json.dumps({"run": str(run.path), "checkpoint": ckpt.name,
                          **{k.split("/")[-1]: round(v, 4) for k, v in numbers.items()}}), flush=True)


if __name__ == "__main__":
    main()
