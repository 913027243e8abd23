"""`python -m gan_lightning.sample`: read the arguments, load G, hand it to the view asked for."""

import importlib
import sys

import torch

from gan_lightning.errors import one_line_errors
from gan_lightning.models.checkpoint_file import load_generator
from gan_lightning.run.signals import stop_at_once
from gan_lightning.sample.arguments import parse_args, resolve_device


def run(args: dict) -> str:
    """Draw what `args` ask for; returns the line that says what was written (and its numbers)."""
    device = resolve_device(args["device"])
    generator, hparams = load_generator(args["ckpt"], args["ema"], device)
    view = importlib.import_module(f"gan_lightning.sample.{args['view']}")
    if args["seed"] is not None:
        torch.manual_seed(args["seed"])
    return view.draw(args, generator, hparams, device)


def main(argv: list[str] | None = None) -> None:
    import gan_lightning.sample as package

    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help", "help") for a in argv):
        print(package.__doc__.strip())
        return
    stop_at_once("while drawing samples: nothing more was written")  # Ctrl-C: one line and exit 130
    with one_line_errors("gan_lightning.sample"):
        print(run(parse_args(argv)))
