"""Does `channels_last=true` pay? The template's nets in NCHW and in NHWC order, taking turns.

    python benchmarks/memory_format.py                    # every case below, 120 G steps each
    python benchmarks/memory_format.py quickstart --steps 300

Two bare loops of the very nets, objective and optimizers the template builds for a case
(overhead.py's BareLoop, each net frozen while the other steps, as Lightning's optimizer
toggling does in the template): one with `channels_last=false`, one with `channels_last=true`.
After `--warmup` G steps of each they take turns every `--segment` G steps, so that a shared
machine's drift slows both alike, and the script prints G steps/s of each and their ratio.
The template adds the same few milliseconds a step to either (overhead.py), so the ratio is
what a run gains.
"""

import os
import sys

import torch

CASES = {
    "quickstart": ("quickstart", ()),  # the front door: DCGAN at half width, 32-pixel digits
    "dcgan": ("dcgan", ()),
    "wgan_gp": ("wgan_gp", ()),
    "r3gan": ("r3gan", ()),
    "resnet": ("quickstart", ("net=resnet", "net.g_features=32", "net.d_features=32")),
}


def turns(case: str, steps: int, warmup: int, segment: int) -> tuple[float, float]:
    """(NCHW, NHWC) G steps/s of `case`'s nets, in turns of `segment` G steps."""
    import overhead

    model, overrides = CASES[case]
    loops = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        loops.append(overhead.BareLoop(model, overrides=(*overrides, f"channels_last={str(channels_last).lower()}"),
                                       toggle=True))
    nchw, nhwc = overhead.take_turns(loops, steps, warmup, segment)
    return nchw, nhwc


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    import overhead

    overhead.turns_table(__doc__, CASES, 120, ("NCHW G steps/s", "NHWC G steps/s (channels_last=true)"), turns)


if __name__ == "__main__":
    main()
