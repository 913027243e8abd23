"""What the template's loop costs beyond the math: `python -m gan_lightning` against a bare PyTorch
loop of the same GAN, back to back in one process.

    python benchmarks/overhead.py                     # gan, dcgan, wgan_gp; 2,000 G steps each
    python benchmarks/overhead.py dcgan --steps 500 --repeats 3

The bare loop uses the very nets, objective (loss and penalties), optimizers and batch size the
template builds for `model=<name>` on mnist5k, with the data as one in-memory tensor in [-1, 1]
and nothing else: no logging, grids, checkpoints or progress bar. The template runs its own entry
point in-process with the default callbacks (grids, checkpoints, logging, progress bar) and
metrics off. Both are timed from the end of a warm-up (`--warmup` G steps) to their last G step;
the script prints G steps/s of each (medians over the repeats), and the median over the pairs of
their ratio and of the milliseconds per G step the template adds.
"""

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

import lightning as L
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from gan_lightning.data import to_signed_unit

MODELS = ("gan", "dcgan", "wgan_gp")
EXTRA = os.environ.get("OVERHEAD_EXTRA", "").split()
STATIC = ["callbacks.metrics.feature=null", "data=mnist5k", *EXTRA]


class StepTimer(L.Callback):
    """Times the template's G steps after `warmup` of them (a callback the run is given)."""

    warmup = 50
    start: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if pl_module.generator_steps == StepTimer.warmup and StepTimer.start is None:
            StepTimer.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        StepTimer.seconds = time.perf_counter() - StepTimer.start
        StepTimer.steps = pl_module.generator_steps - StepTimer.warmup


def template(model: str, steps: int) -> float:
    """G steps/s of `python -m gan_lightning model=<model>` (in-process) after the warm-up."""
    import importlib

    from gan_lightning.train import main

    timer = importlib.import_module("overhead").StepTimer  # the class the run instantiates (not __main__'s)
    timer.start, timer.warmup = None, StepTimer.warmup
    with tempfile.TemporaryDirectory() as run_dir:
        sys.argv = ["gan_lightning", f"model={model}", *STATIC, f"max_generator_steps={steps + StepTimer.warmup}",
                    "trainer.max_epochs=-1", f"hydra.run.dir={run_dir}",
                    "+callbacks.timer._target_=overhead.StepTimer"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main()
    return timer.steps / timer.seconds


def bare(model: str, steps: int, warmup: int, compile_: bool = False) -> float:
    """G steps/s of a plain loop over the template's own nets, objective and optimizers (their
    forward passes through torch.compile with `compile_`, penalties eager as in the template)."""
    with initialize_config_module("gan_lightning.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"model={model}", *STATIC, "paths.output_dir=."])
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    module = instantiate(cfg.model, image_shape=list(datamodule.image_shape),
                         net=OmegaConf.to_container(cfg.net), loss=cfg.loss.name,
                         reg=OmegaConf.to_container(cfg.reg), augment=OmegaConf.to_container(cfg.augment),
                         schedule=OmegaConf.to_container(cfg.schedule), _convert_="all")
    generator, discriminator, objective = module.generator, module.discriminator, module.objective
    eager_discriminator = discriminator
    if compile_:
        generator, discriminator = torch.compile(generator), torch.compile(discriminator)
    opt_g, opt_d = module.configure_optimizers()
    images = to_signed_unit(datamodule.images)
    batch, latent, n_critic = datamodule.batch_size, module.hparams.latent_dim, module.hparams.n_critic
    order, cursor = torch.randperm(len(images)), 0
    start = None
    for step in range(steps + warmup):
        if step == warmup:
            start = time.perf_counter()
        for _ in range(n_critic):
            if cursor + batch > len(images):
                order, cursor = torch.randperm(len(images)), 0
            real = images[order[cursor:cursor + batch]]
            cursor += batch
            fake = generator(torch.randn(batch, latent)).detach()
            loss_d = objective.loss.discriminator(discriminator(real), discriminator(fake))
            for penalty in objective.penalties:
                loss_d = loss_d + penalty.weight * penalty(eager_discriminator, real, fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        loss_g = objective.loss.generator(discriminator(generator(torch.randn(batch, latent))))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("models", nargs="*", default=list(MODELS), help="model presets")
    parser.add_argument("--steps", type=int, default=2000, help="timed G steps per run")
    parser.add_argument("--warmup", type=int, default=50, help="G steps before timing")
    parser.add_argument("--repeats", type=int, default=2, help="bare, template pairs per model (medians)")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))  # the StepTimer callback, by its module name
    StepTimer.warmup = args.warmup
    print(f"{args.steps} G steps after {args.warmup} of warm-up, mnist5k, {torch.get_num_threads()} threads; "
          f"median of {args.repeats}\n")
    print("| model | bare loop G steps/s | template G steps/s | ratio (time) | template adds (ms per G step) |")
    print("|---|---:|---:|---:|---:|")
    for model in args.models:
        pairs = []
        for _ in range(args.repeats):
            torch.manual_seed(0)
            plain = bare(model, args.steps, args.warmup)
            torch.manual_seed(0)
            pairs.append((plain, template(model, args.steps)))
        # The ratio of each pair (run in the same minute), then their median: a shared machine's
        # drift between pairs moves both runs of a pair alike.
        plain, ours = statistics.median(p for p, _ in pairs), statistics.median(t for _, t in pairs)
        ratio = statistics.median(p / t for p, t in pairs)
        added = statistics.median(1000 / t - 1000 / p for p, t in pairs)
        print(f"| {model} | {plain:.1f} | {ours:.1f} | {ratio:.3f} | {added:.2f} |", flush=True)


if __name__ == "__main__":
    main()
