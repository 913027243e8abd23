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
    sys.path.insert(0, os.path.dirname(__file__))
    import overhead

    overhead.turns_table(__doc__, CASES, 200, ("default Adam G steps/s", "fused Adam G steps/s"), turns)


if __name__ == "__main__":
    main()
