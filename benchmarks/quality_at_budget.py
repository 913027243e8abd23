"""Which recipe draws the best digits in a fixed wall-clock budget? The front door's default is chosen here.

    python benchmarks/quality_at_budget.py                       # every candidate, 70 s of training each (~35 min)
    python benchmarks/quality_at_budget.py --seconds 70 dcgan32_hinge rpgan32
    python benchmarks/quality_at_budget.py quickstart resnet16_hinge --seeds 1 2 3   # mean and spread over seeds
    python benchmarks/quality_at_budget.py few1000 few1000_ada_lecam --seconds 480 --seeds 1 2 3 --jobs 2

Each candidate is `python -m gan_lightning data=mnist5k <its overrides>`, stopped by
trainer.max_time after the same number of seconds of training (in-run FID off, so every
candidate spends its budget on training). Its last.ckpt is then measured the same way for all:
FID and KID on the project's digit classifier (data/classifiers/mnist5k.pt, trained first if
missing), IS, precision/recall, density/coverage and class coverage (how many of the ten digits
the classifier finds among the samples), from 2,000 samples with a fixed seed. The numbers go
into each run's event files (at its last generator step), and the table is
`python -m gan_lightning.compare` over these runs: one row per candidate, mean ± std over the
seeds, sorted by FID. Run it on an otherwise idle machine: the budget is wall-clock time.

    python benchmarks/quality_at_budget.py quickstart --seeds 1 2 3 --evaluate-only   # measure existing runs again
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from gan_lightning.compare.__main__ import compare
from gan_lightning.metrics import evaluate_checkpoint
from gan_lightning.run.directory import RunDir

SMALL = ["net.g_features=32", "net.d_features=32"]
CANDIDATES = {
    "gan_mlp": ["model=gan"],  # the default before this benchmark
    "dcgan64": ["model=dcgan"],
    "dcgan32": ["model=dcgan", *SMALL],
    "dcgan16": ["model=dcgan", "net.g_features=16", "net.d_features=16"],
    "dcgan32_b128": ["model=dcgan", *SMALL, "data.batch_size=128"],
    "dcgan32_b32": ["model=dcgan", *SMALL, "data.batch_size=32"],
    "dcgan32_lr5e-4": ["model=dcgan", *SMALL, "model.lr=5e-4"],
    "dcgan32_b32_lr5e-4": ["model=dcgan", *SMALL, "data.batch_size=32", "model.lr=5e-4"],
    "dcgan32_lr1e-3": ["model=dcgan", *SMALL, "model.lr=1e-3"],
    "dcgan32_b32_lr1e-3": ["model=dcgan", *SMALL, "data.batch_size=32", "model.lr=1e-3"],
    "dcgan32_b32_lr5e-4_ema": ["model=dcgan", *SMALL, "data.batch_size=32", "model.lr=5e-4", "model.ema_decay=0.99"],
    "dcgan32_b32_lr5e-4_hinge": ["model=dcgan", *SMALL, "data.batch_size=32", "model.lr=5e-4", "loss=hinge"],
    "dcgan32_b32_hinge": ["model=dcgan", *SMALL, "data.batch_size=32", "loss=hinge"],
    "dcgan_g32_d16_b32": ["model=dcgan", "net.g_features=32", "net.d_features=16", "data.batch_size=32"],
    "dcgan32_hinge": ["model=dcgan", *SMALL, "loss=hinge"],
    "dcgan32_hinge_sn": ["model=dcgan", *SMALL, "loss=hinge", "net.spectral_norm=true"],
    "dcgan32_lsgan": ["model=dcgan", *SMALL, "loss=least_squares"],
    "dcgan32_diffaugment": ["model=dcgan", *SMALL, "augment=diffaugment"],
    "dcgan32_ema": ["model=dcgan", *SMALL, "model.ema_decay=0.999"],
    "rpgan32": ["model=rpgan", *SMALL],
    "rpgan32_gamma1": ["model=rpgan", *SMALL, "reg.r1.gamma=1", "reg.r2.gamma=1"],
    "rpgan32_lazy4": ["model=rpgan", *SMALL, "reg.r1.every=4", "reg.r2.every=4"],
    "wgan_gp32": ["model=wgan_gp", *SMALL],
    # the front door (32-pixel digits since issue 17), at 28 and 32 pixels, beside the ResNet (net=resnet)
    "quickstart": ["model=quickstart"],
    "quickstart_28px": ["model=quickstart", "data.image_size=28"],
    "quickstart_32px": ["model=quickstart", "data.image_size=32"],
    "resnet16_quickstart": ["model=quickstart", "net=resnet", "data.image_size=32", "net.g_features=16",
                            "net.d_features=16"],
    "resnet16_hinge": ["model=dcgan", "net=resnet", "data.image_size=32", "net.g_features=16", "net.d_features=16",
                       "loss=hinge", "model.beta1=0.0", "model.beta2=0.9", "data.batch_size=32"],
    "resnet32_hinge": ["model=dcgan", "net=resnet", "data.image_size=32", "net.g_features=32", "net.d_features=32",
                       "loss=hinge", "model.beta1=0.0", "model.beta2=0.9", "data.batch_size=32"],
    "resnet16_rpgan": ["model=rpgan", "net=resnet", "data.image_size=32", "net.g_features=16", "net.d_features=16",
                       "data.batch_size=32"],
    # few images (data.limit=1000): the front door's recipe without and with ADA and LeCam (docs/little_data.md)
    "few1000": ["model=quickstart", "data.limit=1000"],
    "few1000_ada": ["model=quickstart", "data.limit=1000", "augment=ada"],
    "few1000_ada_lecam": ["model=quickstart", "data.limit=1000", "augment=ada", "reg=lecam"],
    "few1000_ada20": ["model=quickstart", "data.limit=1000", "augment=ada", "augment.kimg=20"],
    "few1000_lecam": ["model=quickstart", "data.limit=1000", "reg=lecam"],
    "few1000_ada20_lecam": ["model=quickstart", "data.limit=1000", "augment=ada", "augment.kimg=20", "reg=lecam"],
    "few_images": ["experiment=few_images", "data.limit=1000"],  # APA and LeCam
    "few_images_without": ["experiment=few_images", "data.limit=1000", "reg=none"],  # its ablation
    # ADA instead of APA: DiffAugment's policy, or translation and cutout only (no colour on digits)
    "few_images_ada_lecam": ["experiment=few_images", "data.limit=1000", "augment=ada", "reg=lecam"],
    "few_images_shift": ["experiment=few_images", "data.limit=1000", "augment=ada", "augment.policy=[translation]",
                         "reg=lecam"],
    "few_images_shift_cutout": ["experiment=few_images", "data.limit=1000", "augment=ada",
                                "augment.policy=[translation,cutout]", "reg=lecam"],
    "few_images_ada_only": ["experiment=few_images", "data.limit=1000", "augment=ada", "reg=none"],
    "few1000_apa": ["model=quickstart", "data.limit=1000", "reg=apa"],
    "few1000_ada_shift": ["model=quickstart", "data.limit=1000", "augment=ada", "augment.policy=[translation,cutout]"],
    "few1000_ada_shift_lecam": ["model=quickstart", "data.limit=1000", "augment=ada",
                                "augment.policy=[translation,cutout]", "reg=lecam"],
    "quickstart_ema": ["model=quickstart", "model.ema_decay=0.999"],
    # all 5,000 digits for 8 minutes of the 2-core CPU (experiment=digits_8min): the front door trained longer,
    # with an EMA of G, its learning rate annealed, or both
    "digits": ["model=quickstart"],
    "digits_ema": ["model=quickstart", "model.ema_decay=0.999"],
    "digits_cosine": ["model=quickstart", "schedule.lr=cosine"],
    "digits_cosine_ema": ["model=quickstart", "schedule.lr=cosine", "model.ema_decay=0.999"],
    "digits_cosine_lr6e-3": ["model=quickstart", "schedule.lr=cosine", "model.lr=6e-3"],
    "digits_cosine_hinge": ["model=quickstart", "schedule.lr=cosine", "loss=hinge"],
    "digits_8min": ["experiment=digits_8min"],  # its own 13,000-step schedule and budget, and the script's
    "digits_8min_lr6e-3": ["experiment=digits_8min", "model.lr=6e-3"],
    "digits_8min_beta2_0.99": ["experiment=digits_8min", "model.beta2=0.99"],
    "digits_8min_beta1_0": ["experiment=digits_8min", "model.beta1=0.0"],
    "digits_8min_warmup": ["experiment=digits_8min", "schedule.warmup=500"],
    "digits_8min_lr2.5e-3": ["experiment=digits_8min", "model.lr=2.5e-3"],
    "digits_8min_apa_lecam": ["experiment=digits_8min", "reg=[apa,lecam]"],  # does D overfit 5,000 digits in 83 epochs?
    "digits_8min_ada_lecam": ["experiment=digits_8min", "augment=ada", "augment.policy=[translation,cutout]", "reg=lecam"],
    # R3GAN (model=r3gan) on 32-pixel digits, beside the bar: model=rpgan on the front door's nets
    "rpgan32_b32": ["model=rpgan", *SMALL, "data.batch_size=32"],
    "r3gan": ["model=r3gan", "schedule.steps={steps}"],
    "r3gan_w32": ["model=r3gan", "net.g_widths=null", "net.d_widths=null", "net.g_features=32", "net.d_features=32",
                  "net.cardinality=4", "schedule.steps={steps}"],
    "r3gan_gamma0.05": ["model=r3gan", "reg.r1.gamma=0.05", "reg.r2.gamma=0.05", "schedule.final.gamma=0.005",
                        "schedule.steps={steps}"],
    "r3gan_noaug": ["model=r3gan", "augment=none", "schedule.augment_p=constant", "schedule.steps={steps}"],
    "r3gan_no_ema": ["model=r3gan", "schedule.ema_half_life=constant", "schedule.steps={steps}"],
    "r3gan_gamma10": ["model=r3gan", "reg.r1.gamma=10", "reg.r2.gamma=10", "schedule.final.gamma=1",
                      "schedule.steps={steps}"],
    "r3gan_lr1e-3": ["model=r3gan", "model.lr=1e-3", "schedule.final.lr=2.5e-4", "schedule.steps={steps}"],
    "r3gan_lr2e-3": ["model=r3gan", "model.lr=2e-3", "schedule.final.lr=5e-4", "schedule.steps={steps}"],
    "r3gan_lr4e-3": ["model=r3gan", "model.lr=4e-3", "schedule.final.lr=1e-3", "schedule.steps={steps}"],
    "r3gan_lr1e-3_gamma10": ["model=r3gan", "model.lr=1e-3", "schedule.final.lr=2.5e-4", "reg.r1.gamma=10",
                             "reg.r2.gamma=10", "schedule.final.gamma=1", "schedule.steps={steps}"],
    "r3gan_every1": ["model=r3gan", "reg.r1.every=1", "reg.r2.every=1", "schedule.steps={steps}"],
}
# A schedule spans generator steps, and these runs are budgeted in seconds: `{steps}` becomes the
# steps the budget allows at the candidate's speed on the 2-core CPU (G steps/s of training,
# measured by this script's own runs), so its schedule ends about when its time does.
STEPS_PER_SECOND = {"r3gan": 3.0, "r3gan_w32": 2.3, "r3gan_gamma0.05": 3.3, "r3gan_noaug": 3.4, "r3gan_every1": 2.2,
                    "r3gan_no_ema": 3.3, "r3gan_gamma10": 3.3, "r3gan_lr1e-3": 3.8,
                    "r3gan_lr2e-3": 4.0, "r3gan_lr4e-3": 4.0, "r3gan_lr1e-3_gamma10": 3.8}


def overrides(name: str, seconds: int, steps_per_second: float | None = None, steps: int | None = None) -> list[str]:
    steps = steps or int((steps_per_second or STEPS_PER_SECOND.get(name, 0)) * seconds)
    return [override.format(steps=steps) for override in CANDIDATES[name]]


def ensure_classifier(path: Path) -> None:
    if path.is_file():
        return
    from gan_lightning.data import MNIST5kDataModule
    from gan_lightning.metrics.train_classifier import train_classifier

    train_classifier(MNIST5kDataModule(root=str(path.parent.parent)), path, "mnist5k")


def record(run_dir: Path, numbers: dict[str, float], step: int) -> None:
    """The evaluation into the run's event files, at its last generator step and with the time of
    its last point (so compare's wall time stays the run's own): what the in-run callback logs."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from torch.utils.tensorboard import SummaryWriter

    log_dir = run_dir / "tensorboard"
    last = max(event.wall_time for path in log_dir.glob("events.out.tfevents.*")
               for event in EventFileLoader(str(path)).Load() if event.HasField("summary"))
    for path in log_dir.glob("events.out.tfevents.*.evaluation"):  # measured again: the newer numbers only
        path.unlink()
    with SummaryWriter(log_dir, filename_suffix=".evaluation") as writer:
        for name, value in {**numbers, "val/fid_best": numbers["val/fid"]}.items():
            writer.add_scalar(name, value, step, walltime=last)


def train(name: str, seed: int, seconds: int, out: str, steps_per_second: float | None = None,
          threads: int | None = None, steps: int | None = None) -> float:
    """One training run of `seconds` (or of `steps` generator steps); the process's whole wall time."""
    run_dir = Path(out) / f"{name}-seed{seed}"
    budget = ([f"max_generator_steps={steps}", "++trainer.max_time=null"] if steps else
              [f"++trainer.max_time=00:00:{seconds // 60:02d}:{seconds % 60:02d}"])
    start = time.perf_counter()
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    subprocess.run(
        [sys.executable, "-m", "gan_lightning", "data=mnist5k", *overrides(name, seconds, steps_per_second, steps), f"seed={seed}",
         "trainer.max_epochs=-1", *budget,
         "callbacks.metrics=null", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    return time.perf_counter() - start


def measure(name: str, seed: int, out: str, process_seconds: float | None) -> dict:
    run_dir = Path(out) / f"{name}-seed{seed}"
    run = RunDir(run_dir)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    steps = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]["_extra_state"]["generator_steps"]
    numbers = evaluate_checkpoint(ckpt, run.datamodule(), classifier_path=run.classifier_path)
    record(run_dir, numbers, steps)
    return {"candidate": name, "seed": seed, "generator_steps": steps,
            "process_seconds": None if process_seconds is None else round(process_seconds, 1),
            **{k.split("/")[-1]: round(v, 3) for k, v in numbers.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("candidates", nargs="*", default=list(CANDIDATES), metavar="candidate",
                        help=f"recipes to train, by name (default: all): {', '.join(CANDIDATES)}")
    parser.add_argument("--seconds", type=int, default=70, help="training seconds per candidate")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="one run per candidate and seed")
    parser.add_argument("--out", default="outputs/benchmarks/quality_at_budget")
    parser.add_argument("--evaluate-only", action="store_true", help="measure the runs already in --out again")
    parser.add_argument("--steps", type=int, help="a budget of generator steps instead of --seconds: the same training "
                        "whatever else the machine does, for screening recipes several at a time")
    parser.add_argument("--steps-per-second", type=float, help="a scheduled candidate's G steps/s on this machine, for its schedule's "
                        "length (default: its rate on the idle 2-core box, e.g. r3gan 3.0)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time; above 1, each with one thread "
                        "(OMP_NUM_THREADS=1), so each run has one core of the budget")
    args = parser.parse_args()
    ensure_classifier(Path("data/classifiers/mnist5k.pt"))
    # seeds outermost: every candidate's first run before anyone's second
    runs = [(name, seed) for seed in args.seeds for name in args.candidates]
    if args.evaluate_only:
        seconds = [None] * len(runs)
    else:
        threads = 1 if args.jobs > 1 else None
        with ThreadPoolExecutor(args.jobs) as pool:
            seconds = list(pool.map(lambda run: train(*run, args.seconds, args.out, args.steps_per_second, threads,
                                                              args.steps),
                                    runs))
    rows = []
    for (name, seed), process_seconds in zip(runs, seconds):
        rows.append(measure(name, seed, args.out, process_seconds))
        print(json.dumps(rows[-1]), flush=True)
    cores = "one core each, two runs at a time" if args.jobs > 1 else "one run at a time"
    budget = f"{args.steps} generator steps" if args.steps else f"{args.seconds} s of training"
    print(f"\n{budget} per run ({cores}), mnist5k, seeds {', '.join(map(str, args.seeds))}; "
          f"numbers on the digit classifier's features, 2,000 samples\n")
    compare([str(Path(args.out) / f"{row['candidate']}-seed{row['seed']}") for row in rows], out=args.out)


if __name__ == "__main__":
    main()
