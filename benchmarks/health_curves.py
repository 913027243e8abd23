"""The picture of docs/health.md and the README: health/ curves of healthy and sick runs of the catalogue.

    python benchmarks/health_catalogue.py front_door overpowering memorising rpgan --seeds 1
    python benchmarks/health_curves.py --seed 1 --out docs/images/health_curves.png

Reads the runs benchmarks/health_catalogue.py left under --runs (their TensorBoard files) and
draws, against the generator step, D's ranking accuracy, its loss over a coin toss's (the two
together are d_overpowers) and its held-out accuracy (d_overfits), with the alarm thresholds.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

RUNS = {  # catalogue recipe -> its label
    "front_door": "front door (healthy)",
    "rpgan": "model=rpgan (healthy: ranks right, by a small margin)",
    "overpowering": "model.n_critic=5 (D overpowers)",
    "memorising": "data.limit=200, 400 epochs (D memorises)",
}
PANELS = (  # (scalar, title, alarm threshold)
    ("health/d_accuracy", "health/d_accuracy (alarm: at or above 0.99 ...)", 0.99),
    ("health/d_loss_ratio", "health/d_loss_ratio (... with this at or below 0.25)", 0.25),
    ("health/heldout_accuracy", "health/heldout_accuracy (alarm: 0.75; 0.5 = no memory)", 0.75),
)


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    events = sorted(run_dir.glob("tensorboard/**/events.out.tfevents.*"))
    if not events:
        raise SystemExit(f"{run_dir} has no TensorBoard files: run benchmarks/health_catalogue.py first.")
    accumulator = EventAccumulator(str(events[0]), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/health_catalogue"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("docs/images/health_curves.png"))
    parser.add_argument("--steps", type=int, default=1000, help="the first this many generator steps")
    args = parser.parse_args()
    curves = {label: scalars(args.runs / f"{recipe}_seed{args.seed}") for recipe, label in RUNS.items()}
    figure, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.2))
    for axis, (tag, title, threshold) in zip(axes, PANELS, strict=True):
        for colour, (label, run) in enumerate(curves.items()):
            if tag in run:
                steps, values = zip(*((step, value) for step, value in run[tag] if step <= args.steps), strict=True)
                axis.plot(steps, values, linewidth=0.9, label=label, color=f"C{colour}")
        axis.axhline(threshold, color="grey", linestyle="--", linewidth=0.8)
        axis.set_title(title, fontsize=8)
        axis.set_xlabel(f"generator step (the first {args.steps:,})", fontsize=8)
        axis.tick_params(labelsize=7)
    axes[0].legend(fontsize=6.5, loc="lower right")
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
