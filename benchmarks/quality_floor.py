"""Train variants on mnist5k for the same generator-step budget; print steps, seconds, FID, coverage.

    python benchmarks/quality_floor.py                    # gan dcgan dcgan_ema wgan_gp wgan, 2000 G steps
    python benchmarks/quality_floor.py --steps 3000 dcgan wgan_gp

Each run evaluates FID/KID with the project's digit classifier (data/classifiers/mnist5k.pt,
trained on first use) about every 160 generator steps; the per-epoch grids are in each run's
samples/ folder (TensorBoard's image step is the generator step), so you can also see when
the ten digits become recognisable.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from gan_lightning.run.directory import read_scalars

RUNS = {
    "gan": ["model=gan"],
    "dcgan": ["model=dcgan"],
    "dcgan_ema": ["experiment=dcgan_ema"],
    "wgan_gp": ["model=wgan_gp"],
    "wgan": ["model=wgan"],
}
EPOCH_G_STEPS = {"gan": 78, "dcgan": 78, "dcgan_ema": 78, "wgan_gp": 15.6, "wgan": 15.6}  # mnist5k, batch 64


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="*", default=list(RUNS))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", default="outputs/benchmarks/quality_floor")
    args = parser.parse_args()
    for name in args.runs:
        run_dir = Path(args.out) / name
        every = max(1, round(160 / EPOCH_G_STEPS[name]))
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gan_lightning", *RUNS[name], "data=mnist5k", f"max_generator_steps={args.steps}",
             "trainer.max_epochs=-1", "trainer.enable_progress_bar=false", f"callbacks.metrics.every_n_epochs={every}",
             f"hydra.run.dir={run_dir}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        scalars = read_scalars(run_dir / "tensorboard")
        evals = [scalars[k] for k in ("val/fid", "val/class_coverage", "val/is", "val/eval_seconds")]
        final = {"fid": round(evals[0][-1][1], 2), "class_coverage": evals[1][-1][1],
                 "is": round(evals[2][-1][1], 2), "at_generator_step": evals[0][-1][0]}
        print(json.dumps({name: {"generator_steps": args.steps, "seconds": round(seconds, 1),
                                 "eval_seconds_total": round(sum(v for _, v in evals[3]), 1), **final,
                                 "fid_curve": [(s, round(v, 1)) for s, v in evals[0]],
                                 "coverage_curve": [(s, int(v)) for s, v in evals[1]]}}), flush=True)


if __name__ == "__main__":
    main()
