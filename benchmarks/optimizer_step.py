"""Does fused Adam pay? The template's GAN steps with Adam's default update and with its fused one,
taking turns.

    python benchmarks/optimizer_step.py                  # every case below, 200 G steps each
    python benchmarks/optimizer_step.py gan --steps 1000

The template builds Adam with `fused=True` where the device has the kernel (models/base.py's
`adam`). Two bare loops of a case's very nets, objective and optimizers (overhead.py's BareLoop,
each net frozen while the other steps, as in the template): one whose Adams are rebuilt with the
default update (`foreach=False`, torch's choice on a CPU: a loop of small ops per weight), one
with the template's fused Adams. After `--warmup` G steps of each they take turns every
`--segment` G steps, so that a shared machine's drift slows both alike; the script prints G
steps/s of each and their ratio. (On a GPU torch's default is the `foreach` update, not the loop.)
"""

import argparse
import os
import sys

import torch

CASES = ("gan", "quickstart", "dcgan", "wgan_gp")


def unfused(optimizer: torch.optim.Adam) -> torch.optim.Adam:
    """The same Adam (weights, hyperparameters, state) with torch's default CPU update."""
    group = {key: value for key, value in optimizer.param_groups[0].items() if key not in ("params", "fused")}
    return torch.optim.Adam(optimizer.param_groups[0]["params"], **{**group, "foreach": False})


def turns(model: str, steps: int, warmup: int, segment: int) -> tuple[float, float]:
    """(default, fused) G steps/s of `model`'s nets, in turns of `segment` G steps."""
    import overhead

    loops = []
    for _ in range(2):
        torch.manual_seed(0)
        loops.append(overhead.BareLoop(model, toggle=True))
    assert loops[1].opt_g.defaults["fused"], "the template's Adam is not fused here"
    loops[0].opt_g, loops[0].opt_d = unfused(loops[0].opt_g), unfused(loops[0].opt_d)
    default, fused = overhead.take_turns(loops, steps, warmup, segment)
    return default, fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("models", nargs="*", default=list(CASES), help="model presets (Adam ones)")
    parser.add_argument("--steps", type=int, default=200, help="timed G steps of each")
    parser.add_argument("--warmup", type=int, default=10, help="G steps of each before timing")
    parser.add_argument("--segment", type=int, default=10, help="G steps per turn")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(__file__))
    print(f"mnist5k, {torch.get_num_threads()} threads, torch {torch.__version__}; {args.steps} G steps of each "
          f"after {args.warmup} of warm-up, in turns of {args.segment}\n")
    print("| model | default Adam G steps/s | fused Adam G steps/s | speed-up |")
    print("|---|---:|---:|---:|")
    for model in args.models:
        default, fused = turns(model, args.steps, args.warmup, args.segment)
        print(f"| {model} | {default:.2f} | {fused:.2f} | {fused / default:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
