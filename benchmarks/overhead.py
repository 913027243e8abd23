"""What the template's loop costs beyond the math: `python -m gan_lightning` against a bare PyTorch
loop of the same GAN, interleaved in one process.

    python benchmarks/overhead.py                     # gan, dcgan, wgan_gp; 2,000 G steps each
    python benchmarks/overhead.py dcgan --steps 500 --repeats 3

The bare loop uses the very nets, objective (loss and penalties), optimizers and batch size the
template builds for `model=<name>` on mnist5k, with the data as one in-memory tensor in [-1, 1]
and nothing else: no logging, grids, checkpoints or progress bar. The template runs its own entry
point in-process with the default callbacks (grids, checkpoints, logging, progress bar) and
metrics off. After a warm-up (`--warmup` G steps of each), every `--segment` G steps the template
pauses and the bare loop makes as many: the two take turns second by second, so a shared
machine's drift slows both alike. Before each bare segment the template's background writes
(checkpoints, grids) are waited for, and that wait counts as the template's time. The script
prints G steps/s of each, their ratio and the milliseconds per G step the template adds
(medians over `--repeats` runs).
"""

import argparse
import contextlib
import importlib
import io
import logging
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
STATIC = [*(["callbacks.metrics.feature=null"] if "callbacks=none" not in EXTRA else []), "data=mnist5k", *EXTRA]


class BareLoop:
    """A plain loop over the template's own nets, objective and optimizers for `model=<model>` (their
    forward passes through torch.compile with `compile_`, penalties eager as in the template)."""

    def __init__(self, model: str, compile_: bool = False, overrides: tuple[str, ...] = (), toggle: bool = False):
        with initialize_config_module("gan_lightning.conf", version_base="1.3"):
            cfg = compose("config", overrides=[f"model={model}", *STATIC, *overrides, "paths.output_dir=."])
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
        module = instantiate(cfg.model, image_shape=list(datamodule.image_shape),
                             net=OmegaConf.to_container(cfg.net), loss=cfg.loss.name,
                             reg=OmegaConf.to_container(cfg.reg), augment=OmegaConf.to_container(cfg.augment),
                             schedule=OmegaConf.to_container(cfg.schedule), _convert_="all")
        if cfg.channels_last:
            module.use_channels_last()
        self.generator, self.discriminator, self.objective = module.generator, module.discriminator, module.objective
        self.eager_discriminator = self.discriminator
        if compile_:
            self.generator, self.discriminator = torch.compile(self.generator), torch.compile(self.discriminator)
        self.opt_g, self.opt_d = module.configure_optimizers()
        self.images = to_signed_unit(datamodule.images)
        self.batch, self.latent, self.n_critic = datamodule.batch_size, module.hparams.latent_dim, module.hparams.n_critic
        self.order, self.cursor = torch.randperm(len(self.images)), 0
        # toggle: each net's parameters frozen while the other one steps, as Lightning's optimizer
        # toggling does in the template (no weight gradients for the net that does not step)
        self.toggle = toggle

    def _train_only(self, net: torch.nn.Module) -> None:
        if self.toggle:
            for other in (self.generator, self.discriminator):
                other.requires_grad_(other is net)

    def step(self) -> None:
        """n_critic critic steps, each on its own batch, then one G step."""
        generator, discriminator, objective, batch = self.generator, self.discriminator, self.objective, self.batch
        self._train_only(self.discriminator)
        for _ in range(self.n_critic):
            if self.cursor + batch > len(self.images):
                self.order, self.cursor = torch.randperm(len(self.images)), 0
            real = self.images[self.order[self.cursor:self.cursor + batch]]
            self.cursor += batch
            fake = generator(torch.randn(batch, self.latent)).detach()
            loss_d = objective.loss.discriminator(discriminator(real), discriminator(fake))
            for penalty in objective.penalties:
                loss_d = loss_d + penalty.weight * penalty(self.eager_discriminator, real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        self._train_only(self.generator)
        fake_scores = discriminator(generator(torch.randn(batch, self.latent)))
        # relativistic losses (rpgan, r3gan) score the fakes against the last critic batch's real images
        loss_g = (objective.loss.generator(fake_scores, discriminator(real)) if objective.loss.pairs
                  else objective.loss.generator(fake_scores))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()


def take_turns(loops: list[BareLoop], steps: int, warmup: int, segment: int = 10) -> list[float]:
    """G steps/s of each of `loops`: `warmup` G steps of each, then turns of `segment` G steps until
    each made `steps` (rounded to a whole turn), so that a shared machine's drift slows all alike."""
    for loop in loops:
        for _ in range(warmup):
            loop.step()
    rounds, seconds = max(1, steps // segment), [0.0] * len(loops)
    for _ in range(rounds):
        for i, loop in enumerate(loops):
            start = time.perf_counter()
            for _ in range(segment):
                loop.step()
            seconds[i] += time.perf_counter() - start
    return [rounds * segment / s for s in seconds]


def turns_table(doc: str, cases, steps: int, columns: tuple[str, str], turns) -> None:
    """The command line and table of a script that compares two bare loops per case, taking turns
    (memory_format.py, optimizer_step.py): `turns(case, steps, warmup, segment)` gives the two
    loops' G steps/s, headed `columns`; the table adds their ratio."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("cases", nargs="*", default=list(cases), help=f"of {', '.join(cases)}")
    parser.add_argument("--steps", type=int, default=steps, help="timed G steps of each")
    parser.add_argument("--warmup", type=int, default=10, help="G steps of each before timing")
    parser.add_argument("--segment", type=int, default=10, help="G steps per turn")
    args = parser.parse_args()
    print(f"mnist5k, {torch.get_num_threads()} threads, torch {torch.__version__}; {args.steps} G steps of each "
          f"after {args.warmup} of warm-up, in turns of {args.segment}\n")
    print(f"| case | {columns[0]} | {columns[1]} | speed-up |")
    print("|---|---:|---:|---:|")
    for case in args.cases:
        first, second = turns(case, args.steps, args.warmup, args.segment)
        print(f"| {case} | {first:.2f} | {second:.2f} | {second / first:.2f}x |", flush=True)


def bare(model: str, steps: int, warmup: int, compile_: bool = False) -> float:
    """G steps/s of the bare loop alone, after `warmup` G steps."""
    loop = BareLoop(model, compile_)
    for _ in range(warmup):
        loop.step()
    start = time.perf_counter()
    for _ in range(steps):
        loop.step()
    return steps / (time.perf_counter() - start)


class Interleave(L.Callback):
    """In the template's run (a callback it is given): after `warmup` G steps, every `segment` G
    steps, `segment` steps of `loop` (a BareLoop), each side's time summed apart."""

    loop: BareLoop | None = None
    warmup, segment = 50, 50

    def on_train_start(self, trainer, pl_module) -> None:
        cls = type(self)
        cls.start, cls.paused, cls.bare_seconds, cls.bare_steps, cls.at = None, 0.0, 0.0, 0, -1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        cls, steps = type(self), pl_module.generator_steps
        if pl_module.critic_steps % pl_module.hparams.n_critic or steps == cls.at:
            return  # not the first batch of a G step, or this step's turn was taken
        cls.at = steps
        if steps == cls.warmup:
            cls.start = time.perf_counter()
        elif cls.start is not None and (steps - cls.warmup) % cls.segment == 0:
            for callback in trainer.callbacks:  # the template's writes in flight are its own time
                if hasattr(callback, "writes"):
                    callback.writes.wait()
            bare_start = time.perf_counter()
            for _ in range(cls.segment):
                cls.loop.step()
            cls.bare_seconds += time.perf_counter() - bare_start
            cls.bare_steps += cls.segment
            cls.paused += time.perf_counter() - bare_start

    def on_train_end(self, trainer, pl_module) -> None:
        cls = type(self)
        cls.seconds = time.perf_counter() - cls.start - cls.paused
        cls.steps = pl_module.generator_steps - cls.warmup


def interleaved(model: str, steps: int, warmup: int, segment: int) -> tuple[float, float]:
    """(bare, template) G steps/s of `python -m gan_lightning model=<model>` (in-process) with the
    bare loop's segments interleaved."""
    from gan_lightning.train import main

    timer = importlib.import_module("overhead").Interleave  # the class the run instantiates (not __main__'s)
    timer.loop, timer.warmup, timer.segment = BareLoop(model), warmup, segment
    for _ in range(warmup):
        timer.loop.step()
    with tempfile.TemporaryDirectory() as run_dir:
        sys.argv = ["gan_lightning", f"model={model}", *STATIC, f"max_generator_steps={steps + warmup}",
                    "trainer.max_epochs=-1", f"hydra.run.dir={run_dir}",
                    "+callbacks.timer._target_=overhead.Interleave"]
        quiet = logging.getLogger("lightning.pytorch.utilities.rank_zero")  # "GPU available: ..." amid the table
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                main()
        finally:
            quiet.setLevel(level)
    return timer.bare_steps / timer.bare_seconds, timer.steps / timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("models", nargs="*", default=list(MODELS), help="model presets")
    parser.add_argument("--steps", type=int, default=2000, help="timed G steps of each loop per run")
    parser.add_argument("--warmup", type=int, default=50, help="G steps of each loop before timing")
    parser.add_argument("--segment", type=int, default=50, help="G steps per turn")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs per model (medians)")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))  # the Interleave callback, by its module name
    print(f"{args.steps} G steps of each after {args.warmup} of warm-up, in turns of {args.segment}, mnist5k, "
          f"{torch.get_num_threads()} threads; median of {args.repeats}\n")
    print("| model | bare loop G steps/s | template G steps/s | ratio (time) | template adds (ms per G step) |")
    print("|---|---:|---:|---:|---:|")
    for model in args.models:
        pairs = []
        for _ in range(args.repeats):
            torch.manual_seed(0)
            pairs.append(interleaved(model, args.steps, args.warmup, args.segment))
        plain, ours = statistics.median(p for p, _ in pairs), statistics.median(t for _, t in pairs)
        ratio = statistics.median(p / t for p, t in pairs)
        added = statistics.median(1000 / t - 1000 / p for p, t in pairs)
        print(f"| {model} | {plain:.1f} | {ours:.1f} | {ratio:.3f} | {added:.2f} |", flush=True)


if __name__ == "__main__":
    main()
