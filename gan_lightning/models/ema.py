"""An exponential moving average of G's weights, with BatchNorm statistics of its own.

The averaged G draws better samples than G itself late in training (Yazıcı et al. 2019;
StudioGAN's `utils/ema.py`, StyleGAN's G_ema). Its weights follow G's with a fixed decay and a
warm-up (model.ema_decay), or with a half-life in images, as StyleGAN and R3GAN count it
(model.ema_half_life: after that many training images, G's older weights weigh half). And
since G's BatchNorm running statistics belong to G's weights, not to the average, the
average gets "standing statistics" of its own: re-estimated on its own samples whenever
it is read (sampled from, or saved) after it changed.
"""

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


class EMA:
    """Keeps `module`, the average of `generator`; `draw_inputs(n)` gives G's inputs (z, labels)
    for the BatchNorm re-estimation."""

    def __init__(self, generator: nn.Module, decay: float | None, draw_inputs: Callable[[int], tuple[Tensor, Tensor | None]],
                 batches: int = 8, batch_size: int = 256, half_life: float | None = None):
        self.module = copy.deepcopy(generator).requires_grad_(False)
        self.decay, self.draw_inputs = decay, draw_inputs
        self.half_life = half_life  # images; used instead of `decay` when set (a schedule may change it)
        self.batches, self.batch_size = batches, batch_size
        self.stale = False
        # A checkpoint (the module's state_dict) always holds statistics that match the weights.
        self.module.register_state_dict_pre_hook(self._before_saving)

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int, images: int) -> None:
        """Move the average towards `generator`'s weights after its `step`-th update, which saw
        `images` real images. With a decay, a warm-up (as in TF's ExponentialMovingAverage): early
        on it follows G closely instead of remembering its random initialisation."""
        if self.half_life is not None:
            decay = 0.5 ** (images / self.half_life) if self.half_life > 0 else 0.0
        else:
            decay = min(self.decay, (1 + step) / (10 + step))
        for averaged, current in zip(self.module.parameters(), generator.parameters()):
            averaged.lerp_(current, 1 - decay)
        self.stale = True

    def _before_saving(self, module: nn.Module, prefix: str, keep_vars: bool) -> None:
        self.refresh_if_stale()

    def refresh_if_stale(self) -> None:
        if self.stale:
            self.refresh_statistics()

    @torch.no_grad()
    def refresh_statistics(self) -> None:
        """Recompute the BatchNorm statistics with the averaged weights, as a plain average over
        `batches` batches of its own samples; the training random stream is left as it was."""
        self.stale = False
        norms = [m for m in self.module.modules() if isinstance(m, _BatchNorm)]
        if not norms:
            return
        device = next(self.module.parameters()).device
        momenta = [norm.momentum for norm in norms]
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            was_training = self.module.training
            self.module.train()
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # a cumulative average
            for _ in range(self.batches):
                z, labels = self.draw_inputs(self.batch_size)
                self.module(z) if labels is None else self.module(z, labels)
            for norm, momentum in zip(norms, momenta):
                norm.momentum = momentum
            self.module.train(was_training)
