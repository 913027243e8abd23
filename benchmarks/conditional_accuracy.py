"""How soon does a conditional GAN draw the digit it is asked for?

    python benchmarks/conditional_accuracy.py                  # dcgan and wgan_gp, 3,000 G steps each (~40 min on 2 cores)
    python benchmarks/conditional_accuracy.py --steps 1000 dcgan

Each candidate is `python -m gan_lightning data=mnist5k conditional=true <its overrides>
max_generator_steps=<steps>`, with the in-run metrics evaluated about every 78 generator steps
(every epoch of 78 batches for dcgan; every 5 epochs for wgan_gp's 5 critic steps per G step).
`val/class_accuracy` is the project digit classifier's accuracy on 2,000 conditional samples
against the digits asked for (classes drawn with the data's frequencies). Prints, per candidate:
the first evaluated generator step at which it passes 90% and the training seconds until then
(from the first logged step, evaluation time left out), and the accuracy, FID and KID after the
last step. Run it on an otherwise idle machine: the seconds are wall-clock time.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

CANDIDATES = {
    "dcgan": ["model=dcgan", "callbacks.metrics.every_n_epochs=1"],
    "wgan_gp": ["model=wgan_gp", "callbacks.metrics.every_n_epochs=5"],
}
TARGET = 0.9


def events(log_dir: Path) -> dict[str, list[tuple[float, int, float]]]:
    """{tag: [(wall time, step, value), ...]} from the run's TensorBoard files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(e.wall_time, e.step, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def summarise(name: str, log_dir: Path) -> dict:
    scalars = events(log_dir)
    start = scalars["train/loss_g"][0][0]  # generator step 1 (log_every_n_steps=1)
    accuracy, eval_seconds = scalars["val/class_accuracy"], scalars["val/eval_seconds"]
    row = {"candidate": name, "steps": accuracy[-1][1], "class_accuracy": round(accuracy[-1][2], 4),
           "fid": round(scalars["val/fid"][-1][2], 2), "kid": round(scalars["val/kid"][-1][2], 4),
           "steps_to_90": None, "seconds_to_90": None}
    for index, (wall, step, value) in enumerate(accuracy):
        if value > TARGET:
            evaluating = sum(seconds for _, _, seconds in eval_seconds[:index + 1])
            row.update(steps_to_90=step, seconds_to_90=round(wall - start - evaluating, 1),
                       accuracy_then=round(value, 4))
            break
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--steps", type=int, default=3000, help="generator steps per candidate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="outputs/benchmarks/conditional_accuracy")
    args = parser.parse_args()
    rows = []
    for name in args.candidates:
        run_dir = Path(args.out) / f"{name}-seed{args.seed}"
        subprocess.run(
            [sys.executable, "-m", "gan_lightning", "data=mnist5k", "conditional=true", *CANDIDATES[name],
             f"max_generator_steps={args.steps}", "trainer.max_epochs=-1", "trainer.log_every_n_steps=1",
             f"seed={args.seed}", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        rows.append(summarise(name, run_dir / "tensorboard"))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nmnist5k, conditional=true, seed {args.seed}; class accuracy on 2,000 samples by the digit classifier\n")
    print(f"| model | G steps to > 90% | training s to > 90% | class accuracy at {args.steps} | FID at {args.steps} |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        never = f"not within {args.steps}"
        print(f"| `{name_of(row)}` | {row['steps_to_90'] or never} | {row['seconds_to_90'] or '-'} | "
              f"{row['class_accuracy']:.3f} | {row['fid']:.1f} |")


def name_of(row: dict) -> str:
    return " ".join(CANDIDATES[row["candidate"]][:1] + ["conditional=true"])


if __name__ == "__main__":
    main()
