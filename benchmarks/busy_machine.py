"""The default run's wall time on an idle machine and beside other CPU-bound work.

    python benchmarks/busy_machine.py                                  # the defaults, 300 G steps
    python benchmarks/busy_machine.py "" "OMP_WAIT_POLICY=" "OMP_NUM_THREADS=1" --repeats 2

Each positional argument is one variant: the KEY=VALUE settings (space-separated) of the runs'
environment; "" is none, the default. `OMP_WAIT_POLICY=` (empty) gives libgomp's own default
back, threads that spin before they sleep, as before the entry point set PASSIVE (libgomp
prints one warning about the empty value). Every variant runs `python -m gan_lightning
max_generator_steps=N trainer.enable_progress_bar=false` (the default run, metrics included, cut
to N generator steps) from a temporary folder, alone and then with `--load` processes of
`python -c "while True: pass"` beside it; variants and conditions take turns, and the table has
each variant's median times and its loaded/idle ratio. The digit classifier the metrics use is
trained once by an untimed first run.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(cwd: Path, steps: int, env: dict[str, str]) -> float:
    run_dir = cwd / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gan_lightning", f"max_generator_steps={steps}",
                    "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
                   cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def loaded(cwd: Path, steps: int, env: dict[str, str], load: int) -> float:
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
    try:
        return timed_run(cwd, steps, env)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", default=[""], help='environment settings per variant, "" = none')
    parser.add_argument("--steps", type=int, default=300, help="generator steps of each run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--load", type=int, default=1, help="CPU-bound processes beside the loaded runs")
    args = parser.parse_args()
    envs = {variant: {**os.environ, **dict(item.split("=", 1) for item in variant.split())}
            for variant in args.variants}
    cwd = Path(tempfile.mkdtemp(prefix="busy_machine_"))
    times: dict[str, dict[str, list[float]]] = {v: {"idle": [], "loaded": []} for v in args.variants}
    try:
        timed_run(cwd, 2, envs[args.variants[0]])  # untimed: trains the digit classifier once
        for _ in range(args.repeats):
            for variant, env in envs.items():
                times[variant]["idle"].append(timed_run(cwd, args.steps, env))
                times[variant]["loaded"].append(loaded(cwd, args.steps, env, args.load))
                print(f"  {variant or '(default)'}: idle {times[variant]['idle'][-1]:.1f} s, "
                      f"loaded {times[variant]['loaded'][-1]:.1f} s (load average now {os.getloadavg()[0]:.2f}: "
                      f"other work on the machine shows here)", flush=True)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    print(f"\n{len(os.sched_getaffinity(0))} usable cores, {args.steps} generator steps, {args.load} busy "
          f"process{'es' * (args.load != 1)} beside the loaded runs, median of {args.repeats}\n")
    print("| environment | idle (s) | loaded (s) | loaded / idle |\n|---|---|---|---|")
    for variant, measured in times.items():
        idle, busy = statistics.median(measured["idle"]), statistics.median(measured["loaded"])
        print(f"| {variant or '(default)'} | {idle:.1f} | {busy:.1f} | {busy / idle:.2f}x |")


if __name__ == "__main__":
    main()
