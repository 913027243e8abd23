"""A probability steered by how much D overfits: ADA's p (augment=ada, Karras et al. 2020) and
APA's p (reg=apa, Jiang et al. 2021).

The overfitting heuristic is ADA's r_t = E[sign D(x)] over D's scores on the real images it is
shown: near 0 while D cannot tell them from fakes, toward 1 as it memorises them. Every
`interval` critic steps p moves by sign(r_t - target) * (images seen) / (kimg * 1000), so it can
cross [0, 1] in `kimg` thousand images, and stays in [0, 1]. The counts are integers in the
module's state, so checkpoints carry them exactly (a resume continues bit-exactly, in any
precision), and everything stays on the device: no host sync.
"""

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, require_number


class AdaptiveProbability(nn.Module):
    def __init__(self, key: str, target: float = 0.6, kimg: float = 100, interval: int = 4, p: float = 0.0):
        super().__init__()
        require_number(f"{key}.target", target, 0, 1, example=0.6)  # a value of r_t
        require_number(f"{key}.kimg", kimg, example=100)
        require_number(f"{key}.interval", interval, integer=True)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ConfigError(f"{key}.p={p!r} is the starting probability: use a number in [0, 1], e.g. {key}.p=0.")
        self.key, self.target, self.kimg, self.interval = key, float(target), float(kimg), int(interval)
        self.units = round(self.kimg * 1000)  # p = units_on / units: one unit per image
        self.register_buffer("units_on", torch.tensor(round(p * self.units), dtype=torch.long))
        self.register_buffer("signs", torch.zeros((), dtype=torch.long))  # sum of sign D(x) since the last move
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))  # real images scored since the last move

    @property
    def p(self) -> Tensor:
        """The probability now (a float32 tensor on the device)."""
        return self.units_on.float() / self.units

    @torch.no_grad()
    def observe(self, real_scores: Tensor, critic_step: int) -> None:
        """D's scores on this critic step's real images; p moves after every `interval`-th critic step
        (`critic_step` counts from 1), by the r_t of all ranks' images since the last move."""
        self.signs += real_scores.detach().sign().sum().long()
        self.seen += real_scores.numel()
        if critic_step % self.interval:
            return
        signs, seen = self.signs, self.seen
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            both = torch.stack([signs, seen])
            dist.all_reduce(both)
            signs, seen = both[0], both[1]
        # sign(r_t - target) without a division: sign(signs - target * seen)
        direction = torch.sign(signs.double() - self.target * seen.double()).long()
        self.units_on.copy_((self.units_on + direction * seen).clamp(0, self.units))
        self.signs.zero_()
        self.seen.zero_()

    def extra_repr(self) -> str:
        return f"target={self.target:g}, kimg={self.kimg:g}, interval={self.interval}"


class PseudoAugment(AdaptiveProbability):
    """APA (reg=apa): each real image D is shown becomes a fake with probability p, the fake it is
    paired with in the critic step (detached, of the same class when conditional), so a D that
    memorises its real images is told some of them are fakes."""

    def __init__(self, **options):
        super().__init__("reg.apa", **options)

    def forward(self, real: Tensor, fake: Tensor) -> Tensor:
        swap = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device) < self.p
        return torch.where(swap, fake.detach().to(real.dtype), real)
