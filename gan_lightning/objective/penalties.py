"""What keeps the critic in check: gradient penalties and weight clipping (the `reg` config group).

A penalty is a function of the critic and its inputs that returns one unweighted scalar; all
three here are per-sample (a norm per image), so a conv critic must not use BatchNorm with
them. Under precision=16-mixed the critic's output is scaled before differentiating, so small
fp16 gradients do not underflow, and the gradients are unscaled afterwards (the recipe in
PyTorch's AMP docs); norms are taken in fp32.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, require_number


def input_gradients(critic: Callable[[Tensor], Tensor], inputs: Tensor, scaler=None) -> Tensor:
    """d sum(critic(inputs)) / d inputs in fp32, with a graph so a penalty on it trains the critic."""
    inputs = inputs.detach().requires_grad_(True)
    output = critic(inputs).sum()
    if scaler is None:
        (grads,) = torch.autograd.grad(output, inputs, create_graph=True)
        return grads.float()
    scale = scaler.scale(torch.ones((), device=output.device))  # a tensor: no host sync
    (grads,) = torch.autograd.grad(output * scale, inputs, create_graph=True)
    return grads.float() / scale


def squared_gradient_norms(critic, inputs: Tensor, scaler=None) -> Tensor:
    """||d critic(x) / d x||^2 for each image x of `inputs` (fp32, differentiable)."""
    return input_gradients(critic, inputs, scaler).flatten(1).pow(2).sum(1)


def gradient_penalty(critic, real: Tensor, fake: Tensor, scaler=None, eps: float = 1e-12) -> Tensor:
    """E[(||grad C(x_hat)||_2 - 1)^2] on random interpolates x_hat (Gulrajani et al. 2017).

    The norm has an epsilon, so it stays finite and differentiable where the gradient vanishes.
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    interpolates = alpha * real.detach() + (1 - alpha) * fake.detach()
    norms = squared_gradient_norms(critic, interpolates, scaler).add(eps).sqrt()
    return (norms - 1).pow(2).mean()


def r1_penalty(critic, real: Tensor, fake: Tensor, scaler=None) -> Tensor:
    """E[||grad D(x)||^2] on real images (Mescheder et al. 2018): zero-centred, flattens D on the data."""
    return squared_gradient_norms(critic, real, scaler).mean()


def r2_penalty(critic, real: Tensor, fake: Tensor, scaler=None) -> Tensor:
    """E[||grad D(G(z))||^2] on (detached) fakes: regularises D only, G gets no gradient from it."""
    return squared_gradient_norms(critic, fake, scaler).mean()


@torch.no_grad()
def clip_weights(critic: nn.Module, value: float) -> None:
    """WGAN's Lipschitz constraint: every critic weight into [-value, value] (after each critic step)."""
    for param in critic.parameters():
        param.clamp_(-value, value)


# name -> (function, weight per unit of gamma): R1/R2 enter the loss as gamma/2 * R (Mescheder et al.,
# R3GAN), the GP as lambda * GP (Gulrajani et al.).
PENALTIES = {"gp": (gradient_penalty, 1.0), "r1": (r1_penalty, 0.5), "r2": (r2_penalty, 0.5)}
# What else reg= composes: clipping, LeCam (lecam.py) and APA (adaptive.py), with their keys.
OTHER_REGS = {"clip": {"value"}, "lecam": {"gamma", "decay"}, "apa": {"target", "kimg", "interval", "p"}}
REGS = (*PENALTIES, *OTHER_REGS)


@dataclass(frozen=True)
class Penalty:
    name: str  # logged as train/<name>
    gamma: float  # reg.<name>.gamma
    every: int  # computed on every `every`-th critic step (StyleGAN2's lazy R1)

    def weight_at(self, gamma: float) -> float:
        """Its factor in the critic loss at `gamma`, multiplied by `every` (lazy regularisation)."""
        return PENALTIES[self.name][1] * gamma * self.every

    @property
    def weight(self) -> float:
        return self.weight_at(self.gamma)

    def __call__(self, critic, real: Tensor, fake: Tensor, scaler=None) -> Tensor:
        return PENALTIES[self.name][0](critic, real, fake, scaler=scaler)


def parse_reg(reg: Mapping | None) -> tuple[list[Penalty], float | None, dict[str, dict]]:
    """The penalties, the clip value and the other entries' options (lecam, apa: {name: options})
    a `reg` config asks for, or a ConfigError naming the bad key.

    `reg` maps names to options ({"r1": {"gamma": 10, "every": 1}, "clip": {"value": 0.01}}); the
    top-level keys gamma/every/value are shorthands for the single entry chosen (reg=r1 reg.gamma=1).
    """
    reg = dict(reg or {})
    entries = {name: dict(options or {}) for name, options in reg.items() if isinstance(options, Mapping)}
    shorthands = {key: value for key, value in reg.items() if key not in entries and value is not None}
    unknown = sorted(set(entries) - set(REGS)) + sorted(set(shorthands) - {"gamma", "every", "value"})
    if unknown:
        raise ConfigError(f"Unknown reg entry {unknown[0]!r}: use reg=none, or one or several of "
                          f"{', '.join(REGS)} (e.g. reg=[r1,r2]).")
    for key, value in shorthands.items():
        if len(entries) != 1:
            having = [name for name, options in entries.items() if key in options]  # apa has no gamma
            if not having:
                raise ConfigError(f"reg.{key}={value}: none of the reg entries ({', '.join(entries)}) has a {key}; "
                                  f"drop it.")
            raise ConfigError(f"reg.{key}={value} is ambiguous with {len(entries)} reg entries: set it per entry, "
                              f"e.g. " + " ".join(f"reg.{name}.{key}={value}" for name in having) + ".")
        (options,) = entries.values()
        options[key] = value
    if "clip" in entries and set(entries) & set(PENALTIES):
        raise ConfigError(f"reg=clip cannot be combined with {', '.join(sorted(set(entries) & set(PENALTIES)))}: "
                          f"those penalties need D's gradients, which clipping distorts; choose one, e.g. reg=gp.")
    penalties, clip, others = [], None, {}
    for name, options in entries.items():
        allowed = OTHER_REGS.get(name, {"gamma", "every"})
        if set(options) - allowed:
            raise ConfigError(f"reg.{name} takes {', '.join(sorted(allowed))}, not {sorted(set(options) - allowed)}.")
        if name == "clip":
            clip = options.get("value", 0.01)
            require_number("reg.clip.value", clip, low_allowed=True, example=0.01)
            if clip == 0:
                raise ConfigError("reg.clip.value=0 clips every critic weight to zero: use e.g. reg.clip.value=0.01.")
            continue
        if name in OTHER_REGS:
            others[name] = options
            continue
        gamma, every = options.get("gamma", 10.0), options.get("every", 1)
        require_number(f"reg.{name}.gamma", gamma, low_allowed=True, example=10.0)
        require_number(f"reg.{name}.every", every, integer=True)
        penalties.append(Penalty(name, gamma, every))
    return penalties, clip, others
