"""Does `compile=true` pay, and after how long? `python -m gan_lightning` eager and compiled, back
to back in one process.

    python benchmarks/compile_speed.py                       # dcgan and r3gan, 300 G steps after 30 of warm-up
    python benchmarks/compile_speed.py dcgan --steps 1000 --warmup 50
    python benchmarks/compile_speed.py dcgan --bare        # and a bare loop of the same nets, eager and compiled

Each run is the template's own entry point (metrics off, mnist5k), timed by a callback: the
warm-up is the time from the training start to the end of `--warmup` G steps (compilation
happens there), the speed is G steps/s after it. The break-even run length is the number of G
steps at which the compiled run's extra warm-up is repaid by its faster steps. `--bare` adds a
plain PyTorch loop over the same nets, objective and optimizers (overhead.py's, without
augmentation or schedules), an eager and a compiled copy taking turns every 10 G steps after
their warm-up, so that a shared machine's drift slows both alike: what compiling can give at
all on this machine, apart from the template. `--ceiling` profiles the bare eager loop
(torch.profiler) and prints the share of its time in the kernels torch.compile calls as they are
(convolutions, matrix products) and the most compiling could then give, were all the rest free.
"""

import argparse
import contextlib
import importlib
import io
import os
import sys
import tempfile
import time

import lightning as L
import torch

CASES = {"dcgan": ["model=dcgan"], "quickstart": ["model=quickstart"], "gan": ["model=gan"], "wgan_gp": ["model=wgan_gp"],
         "r3gan": ["model=r3gan", "schedule.steps=1000"]}


class Timer(L.Callback):
    warmup = 30
    marks: dict = {}

    def on_train_start(self, trainer, pl_module) -> None:
        Timer.marks = {"start": time.perf_counter()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.generator_steps == Timer.warmup and "warm" not in Timer.marks:
            Timer.marks["warm"] = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        Timer.marks["end"], Timer.marks["steps"] = time.perf_counter(), pl_module.generator_steps - Timer.warmup


def run(case: str, steps: int, warmup: int, compile_: bool) -> tuple[float, float]:
    """(warm-up seconds, G steps/s after it)."""
    from gan_lightning.train import main

    timer = importlib.import_module("compile_speed").Timer
    timer.warmup = warmup
    with tempfile.TemporaryDirectory() as run_dir:
        sys.argv = ["gan_lightning", *CASES[case], "data=mnist5k", "callbacks.metrics.feature=null",
                    f"max_generator_steps={steps + warmup}", "trainer.max_epochs=-1", f"compile={str(compile_).lower()}",
                    "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}",
                    "+callbacks.timer._target_=compile_speed.Timer"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main()
    marks = timer.marks
    return marks["warm"] - marks["start"], marks["steps"] / (marks["end"] - marks["warm"])


def bare_pair(case: str, steps: int, warmup: int) -> tuple[float, float]:
    """(eager, compiled) G steps/s of two bare loops of `case`'s nets, taking turns."""
    import overhead

    loops = []
    for compile_ in (False, True):
        torch.manual_seed(0)
        loops.append(overhead.BareLoop(CASES[case][0].removeprefix("model="), compile_))
    eager, compiled = overhead.take_turns(loops, steps, warmup)
    return eager, compiled


# The ops Inductor leaves to their library kernels (oneDNN, cuBLAS/cuDNN): compiling cannot speed them up.
LIBRARY_KERNELS = ("convolution", "conv_transpose", "addmm", "aten::mm", "aten::bmm", "matmul", "linear")


@contextlib.contextmanager
def without_native_stderr():
    """File descriptor 2 to /dev/null: the profiler's own C++ lines (Kineto's start and stop marks,
    and a 'gpuGetDeviceCount failed' ERROR on a machine without a GPU) would land inside the table."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    sys.stderr.flush()
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def library_share(case: str, steps: int = 20, warmup: int = 5) -> float:
    """The share of a bare eager loop's self CPU time spent in LIBRARY_KERNELS, over `steps` G steps."""
    import overhead
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    loop = overhead.BareLoop(CASES[case][0].removeprefix("model="))
    for _ in range(warmup):
        loop.step()
    with without_native_stderr(), profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            loop.step()
    events = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    return sum(event.self_cpu_time_total for event in events
               if any(name in event.key for name in LIBRARY_KERNELS)) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("cases", nargs="*", default=["dcgan", "r3gan"], help=f"of {', '.join(CASES)}")
    parser.add_argument("--steps", type=int, default=300, help="timed G steps per run")
    parser.add_argument("--warmup", type=int, default=30, help="G steps before timing (compilation)")
    parser.add_argument("--bare", action="store_true", help="also a bare loop of the same nets, eager and compiled")
    parser.add_argument("--ceiling", action="store_true",
                        help="only the share of library kernels in a bare eager step and the speed-up it leaves room "
                        "for (20 G steps profiled after 5; --steps and --warmup do not apply)")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    if args.ceiling:
        print(f"{torch.get_num_threads()} threads, torch {torch.__version__}: bare eager loop, 20 G steps profiled\n")
        print("| model | time in convolutions and matrix products | most that compiling the rest can give |")
        print("|---|---:|---:|")
        for case in args.cases:
            share = library_share(case)
            print(f"| {case} | {share:.0%} | {1 / share:.2f}x |", flush=True)
        return
    print(f"mnist5k, metrics off, {torch.get_num_threads()} threads; {args.steps} G steps timed after "
          f"{args.warmup} of warm-up\n")
    print("| model | eager G steps/s | compiled G steps/s | speed-up | warm-up eager (s) | warm-up compiled (s) "
          "| compiled pays after (G steps) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in args.cases:
        if args.bare:  # no warm-up columns: the bare loop's compilation happens inside its untimed warm-up
            eager, compiled = bare_pair(case, args.steps, args.warmup)
            print(f"| {case}, bare loop | {eager:.1f} | {compiled:.1f} | {compiled / eager:.2f}x | | | |", flush=True)
        warm_eager, eager = run(case, args.steps, args.warmup, False)
        warm_compiled, compiled = run(case, args.steps, args.warmup, True)
        saving = 1 / eager - 1 / compiled  # seconds saved per G step
        extra = warm_compiled - warm_eager
        pays = f"{args.warmup + extra / saving:,.0f}" if saving > 0 else "never"
        print(f"| {case} | {eager:.1f} | {compiled:.1f} | {compiled / eager:.2f}x | {warm_eager:.1f} | "
              f"{warm_compiled:.1f} | {pays} |", flush=True)


if __name__ == "__main__":
    main()
