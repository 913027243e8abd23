"""The divergence watch: stop at the generator step where a loss or D's scores stopped being
finite, and never save NaN weights over a good checkpoint.

Recording costs no host sync: the first bad step of each value is kept on the device, and
read only at logging steps and before a checkpoint.
"""

import torch
from torch import Tensor

from gan_lightning.errors import Diverged

# What is watched, in the order the module passes (and the error reports) them.
WATCHED = ("D(x)", "D(G(z))", "loss_d", "loss_g")


class DivergenceWatch:
    def __init__(self) -> None:
        self.first_bad: Tensor | None = None  # per watched value: its first non-finite step (0: never)

    def observe(self, step: int, *values: Tensor) -> None:
        bad = torch.stack([~torch.isfinite(v).all() for v in values])
        if self.first_bad is None:
            self.first_bad = torch.zeros(len(WATCHED), dtype=torch.long, device=bad.device)
        self.first_bad = torch.where((self.first_bad == 0) & bad, step, self.first_bad)

    def raise_if_diverged(self) -> None:
        """A Diverged error naming the step and the value(s) that went NaN or infinite first."""
        if self.first_bad is None:
            return
        steps = self.first_bad.tolist()  # the one host sync
        if not any(steps):
            return
        step = min(s for s in steps if s)
        raise Diverged(", ".join(name for s, name in zip(steps, WATCHED) if s == step), step)
