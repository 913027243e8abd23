"""LeCam regularisation (Tseng et al. 2021, reg=lecam): D's scores anchored to moving averages of
its own, which keeps a D trained on few images from drifting to extreme scores.

    R_LC = E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2]

a_R and a_F are exponential moving averages (decay 0.99) of the batch means of D's real and fake
scores, updated before the term is computed, as in the authors' code (google/lecam-gan); the
first batch starts them. It enters the critic loss as gamma * R_LC. The averages are float64
extra state, not buffers, so a run in bf16-true keeps them exact and checkpoints carry them.
"""

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import require_number


class LeCam(nn.Module):
    def __init__(self, gamma: float = 0.3, decay: float = 0.99):
        super().__init__()
        require_number("reg.lecam.gamma", gamma, low_allowed=True, example=0.3)
        require_number("reg.lecam.decay", decay, 0, 1, low_allowed=True, example=0.99)
        self.gamma, self.decay = float(gamma), float(decay)
        self.averages: Tensor | None = None  # (a_R, a_F), float64, on the scores' device

    def forward(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """R_LC of this batch (unweighted, differentiable in the scores), after updating the averages."""
        with torch.no_grad():
            means = torch.stack([real_scores.detach().double().mean(), fake_scores.detach().double().mean()])
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                dist.all_reduce(means)  # every rank keeps the same averages
                means /= dist.get_world_size()
            if self.averages is None:
                self.averages = means
            else:
                self.averages = self.averages.to(means.device) * self.decay + means * (1 - self.decay)
        anchor_real, anchor_fake = self.averages.to(real_scores.dtype)
        return (F.relu(real_scores - anchor_fake).pow(2).mean()
                + F.relu(anchor_real - fake_scores).pow(2).mean())

    def get_extra_state(self) -> dict:
        return {} if self.averages is None else {"averages": self.averages.cpu()}

    def set_extra_state(self, state: dict) -> None:
        self.averages = state.get("averages")

    def extra_repr(self) -> str:
        return f"gamma={self.gamma:g}, decay={self.decay:g}"
