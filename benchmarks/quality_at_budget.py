"""Which recipe draws the best digits in a fixed wall-clock budget? The front door's default is chosen here.

    python benchmarks/quality_at_budget.py                       # every candidate, 70 s of training each (~35 min)
    python benchmarks/quality_at_budget.py --seconds 70 dcgan32_hinge rpgan32

Each candidate is `python -m gan_lightning data=mnist5k <its overrides>`, stopped by
trainer.max_time after the same number of seconds of training (in-run FID off, so every
candidate spends its budget on training). Its last.ckpt is then measured the same way for all:
FID and KID on the project's digit classifier (data/classifiers/mnist5k.pt, trained first if
missing), class coverage (how many of the ten digits the classifier finds among the samples)
and classifier score, from 2,000 samples with a fixed seed. Prints one JSON line per candidate
and then a Markdown table sorted by FID. Run it on an otherwise idle machine: the budget is
wall-clock time.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

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
}


def ensure_classifier(path: Path) -> None:
    if path.is_file():
        return
    from gan_lightning.data import MNIST5kDataModule
    from gan_lightning.metrics.train_classifier import train_classifier

    train_classifier(MNIST5kDataModule(root=str(path.parent.parent)), path, "mnist5k")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--seconds", type=int, default=70, help="training seconds per candidate")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="outputs/benchmarks/quality_at_budget")
    args = parser.parse_args()
    ensure_classifier(Path("data/classifiers/mnist5k.pt"))
    rows = []
    for name in args.candidates:
        run_dir = Path(args.out) / f"{name}-seed{args.seed}"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gan_lightning", "data=mnist5k", *CANDIDATES[name], f"seed={args.seed}",
             "trainer.max_epochs=-1", f"+trainer.max_time=00:00:{args.seconds // 60:02d}:{args.seconds % 60:02d}", "callbacks.metrics=null",
             "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        run = RunDir(run_dir)
        ckpt = run_dir / "checkpoints" / "last.ckpt"
        steps = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]["_extra_state"]["generator_steps"]
        numbers = evaluate_checkpoint(ckpt, run.datamodule(), classifier_path=run.classifier_path)
        row = {"candidate": name, "generator_steps": steps, "process_seconds": round(seconds, 1),
               **{k.split("/")[-1]: round(v, 3) for k, v in numbers.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{args.seconds} s of training per candidate, mnist5k, seed {args.seed}; FID/KID on the digit classifier\n")
    print("| candidate | overrides | G steps | process s | FID | KID | classes | classifier score |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in sorted(rows, key=lambda r: r["fid"]):
        print(f"| {row['candidate']} | `{' '.join(CANDIDATES[row['candidate']])}` | {row['generator_steps']} | "
              f"{row['process_seconds']} | {row['fid']:.1f} | {row['kid']:.4f} | {row['class_coverage']:.0f} | "
              f"{row['classifier_score']:.2f} |")


if __name__ == "__main__":
    main()
