"""Which runs the health watch calls sick: recipes known to go wrong, and healthy ones, over seeds.

    python benchmarks/health_catalogue.py                        # every recipe, seeds 1-5, two runs at a time
    python benchmarks/health_catalogue.py overpowering --seeds 1 2 --jobs 1

Each run is `python -m gan_lightning <recipe> seed=<s>` on mnist5k with one thread. The table
gives, per recipe, the seeds that raised the alarm the recipe is known for (or, for a healthy
one, any alarm), the generator step of the first such alarm against the run's budget, and the
FID at the first evaluation after the alarm and at the end. Run folders stay under --out for
TensorBoard (health/ curves) and `python -m gan_lightning.compare` (its alarms column).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# name -> (overrides, the alarm it should raise (None: healthy, no alarm), its G-step budget)
RECIPES = {
    "front_door": ([], None, 936),
    # D takes 5 steps per G step, for 12 epochs
    "overpowering": (["model.n_critic=5", "trainer.max_epochs=12"], "d_overpowers", 374),
    "memorising": (["model.lr=1e-3", "data.limit=200", "trainer.max_epochs=400", "callbacks.metrics.every_n_epochs=50",
                    "callbacks.sample_grid.every_n_epochs=50"], "d_overfits", 2400),   # 200 images, 400 epochs (6 batches each)
    # the seeds' DCGAN at a quarter width: one digit class in the 70-s table (docs/measurements.md)
    "collapsing": (["model=dcgan", "net.g_features=16", "net.d_features=16", "trainer.max_epochs=6",
                    "callbacks.metrics.every_n_epochs=1"], "mode_collapse", 468),   # evaluated every epoch
    "rpgan": (["model=rpgan", "trainer.max_epochs=6"], None, 468),
    "r3gan": (["model=r3gan", "trainer.max_epochs=3"], None, 468),   # R3GAN's recipe, its schedules over 3 epochs
    # the README's sweep, `-m model.lr=1e-3,4e-3 model.beta1=0.0,0.5`: the front door's neighbours
    **{f"sweep_lr{lr}_beta1_{beta1}": ([f"model.lr={lr}", f"model.beta1={beta1}"], None, 936)
       for lr in ("1e-3", "4e-3") for beta1 in ("0.0", "0.5")},
    # the seeds' DCGAN at full width, as the README's sweep was, for 4 of its 40 epochs
    **{f"dcgan_lr{lr}_beta1_{beta1}": (["model=dcgan", f"model.lr={lr}", f"model.beta1={beta1}", "trainer.max_epochs=4"],
                                       None, 312) for lr in ("1e-4", "2e-4") for beta1 in ("0.0", "0.5")},
}
ALARM = re.compile(r"Health alarm \((\w+)\) at generator step (\d+)")
FID = re.compile(r"FID ([\d.]+) .* at (\d+) generator steps")


def run(recipe: str, seed: int, out: Path) -> dict:
    overrides, _, _ = RECIPES[recipe]
    run_dir = out / f"{recipe}_seed{seed}"
    if not (run_dir / "train.log").is_file() or "finished:" not in (run_dir / "train.log").read_text():
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-m", "gan_lightning", *overrides, f"seed={seed}",
                        "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
                       env=env, capture_output=True, text=True, check=False)
    log = (run_dir / "train.log").read_text() if (run_dir / "train.log").is_file() else ""
    alarms = [(name, int(step)) for name, step in ALARM.findall(log)]
    fids = [(int(step), float(fid)) for fid, step in FID.findall(log)]
    return {"recipe": recipe, "seed": seed, "alarms": alarms, "fids": fids, "finished": "finished:" in log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="*", default=list(RECIPES), help=f"of {', '.join(RECIPES)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks/health_catalogue"))
    args = parser.parse_args()
    jobs = [(recipe, seed) for recipe in args.recipes for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: run(*job, args.out), jobs))
    print("| recipe | expected | seeds with it | first alarm (G step / budget) | FID after it | final FID | "
          "other alarms |")
    print("|---|---|---|---|---|---|---|")
    for recipe in args.recipes:
        _, expected, budget = RECIPES[recipe]
        runs = [r for r in results if r["recipe"] == recipe]
        if expected is None:
            hits = [r for r in runs if not r["alarms"]]
            first, after = "-", "-"
            others = sorted({name for r in runs for name, _ in r["alarms"]})
        else:
            hits = [r for r in runs if any(name == expected for name, _ in r["alarms"])]
            steps = [next(step for name, step in r["alarms"] if name == expected) for r in hits]
            first = (f"{statistics.median(steps):.0f} / {budget} (seeds: {', '.join(map(str, steps))})"
                     if steps else "-")
            after_fids = [next((fid for step, fid in r["fids"] if step >= alarm), None) for r, alarm in zip(hits, steps)]
            after = ", ".join("-" if fid is None else f"{fid:.0f}" for fid in after_fids) or "-"
            others = sorted({name for r in runs for name, _ in r["alarms"] if name != expected})
        finals = ", ".join(f"{r['fids'][-1][1]:.0f}" if r["fids"] else "-" for r in runs)
        shown = "no alarm" if expected is None else expected
        print(f"| {recipe} | {shown} | {len(hits)} of {len(runs)} | {first} | {after} | {finals} | "
              f"{', '.join(others) or '-'} |")


if __name__ == "__main__":
    main()
