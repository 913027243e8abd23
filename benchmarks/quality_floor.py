"""Train each variant on mnist5k for a generator-step budget; print steps, seconds, grid paths.

    python benchmarks/quality_floor.py                      # all four, default budgets
    python benchmarks/quality_floor.py dcgan=3000 wgan_gp=2000

Look at the per-epoch grids in each run's samples/ folder (the TensorBoard image step is the
generator step) to see when the ten digit classes become recognisable.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

BUDGETS = {"gan": 3000, "dcgan": 3000, "wgan": 2000, "wgan_gp": 2000}
OUT = Path("outputs/benchmarks/quality_floor")


def main(argv: list[str]) -> None:
    budgets = dict(BUDGETS)
    if argv:
        budgets = {name: int(steps) for name, steps in (arg.split("=") for arg in argv)}
    results = {}
    for model, steps in budgets.items():
        run_dir = OUT / model
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gan_lightning", f"model={model}", "data=mnist5k",
             f"max_generator_steps={steps}", "trainer.max_epochs=-1", "trainer.enable_progress_bar=false",
             f"hydra.run.dir={run_dir}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        results[model] = {"generator_steps": steps, "seconds": round(seconds, 1),
                          "steps_per_second": round(steps / seconds, 2), "grids": str(run_dir / "samples")}
        print(json.dumps({model: results[model]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
