"""Truncation's trade on the front door: precision rises and recall falls as psi tightens.

    python benchmarks/truncation_tradeoff.py                       # trains the front door (6 epochs, ~1.5 min)
    python benchmarks/truncation_tradeoff.py --ckpt RUN/checkpoints/best.ckpt --levels 1,0.8,0.6,0.4,0.2

Trains `python -m gan_lightning` (or reads a run's checkpoint), then runs
`python -m gan_lightning.sample view=truncation` on it and prints the table, with whether
precision never falls and recall never rises from one level to the next. The test suite checks
the same trade on a generator whose answer is known (tests/test_inspection.py); a training run
of this length belongs here, not in a timed test.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", help="a run's checkpoint (default: train the front door first)")
    parser.add_argument("--epochs", type=int, default=6, help="the front door's epochs when training")
    parser.add_argument("--levels", default="1,0.8,0.6,0.4")
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="truncation_"))
    ckpt = args.ckpt
    if ckpt is None:
        run = work / "front_door"
        subprocess.run([sys.executable, "-m", "gan_lightning", f"trainer.max_epochs={args.epochs}",
                        "trainer.enable_progress_bar=false", f"hydra.run.dir={run}"], check=True)
        ckpt = str(run / "checkpoints" / "last.ckpt")
    out = subprocess.run([sys.executable, "-m", "gan_lightning.sample", f"ckpt={ckpt}", "view=truncation",
                          f"truncation={args.levels}", f"num_samples={args.num_samples}", f"seed={args.seed}",
                          f"out={work / 'truncation.png'}"], check=True, capture_output=True, text=True).stdout
    print(out, end="")
    rows = [tuple(map(float, row)) for row in re.findall(r"^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.MULTILINE)]
    precision, recall = [r[1] for r in rows], [r[2] for r in rows]
    print(f"precision never falls: {precision == sorted(precision)}; recall never rises: "
          f"{recall == sorted(recall, reverse=True)} (levels {args.levels}; pictures in {work})")


if __name__ == "__main__":
    main()
