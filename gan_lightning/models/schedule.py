"""Values that change as training goes on: R3GAN's cosine schedules (the `schedule` config group).

    schedule.lr=cosine              model.lr             -> schedule.final.lr       (G's and D's Adam/RMSprop)
    schedule.beta2=cosine           model.beta2          -> schedule.final.beta2    (Adam's beta2)
    schedule.gamma=cosine           reg.<name>.gamma     -> schedule.final.gamma    (every penalty's weight)
    schedule.augment_p=cosine       augment.p            -> schedule.final.augment_p  (DiffAugment's probability)
    schedule.ema_half_life=cosine   model.ema_half_life  -> schedule.final.ema_half_life  (images)

A scheduled value ramps linearly from 0 to its start over `schedule.warmup` generator steps,
then follows half a cosine from its start to its final value over the rest of `schedule.steps`
(the run's budget when null), then stays final: R3GAN's `cosine_decay_with_warmup`, counted in
generator steps rather than images. A value is a pure function of the generator step, and the
length is fixed at the first step and saved in checkpoints, so a resumed run has the same value
at every step as one that was not interrupted (a resume with a larger budget holds the final values).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gan_lightning.errors import ConfigError, require_number

SHAPES = ("constant", "cosine")
# key -> (where its start value comes from, an example final value, the bound it stays below)
SCHEDULABLE = {
    "lr": ("model.lr", 5.0e-5, None),
    "beta2": ("model.beta2", 0.99, 1),
    "gamma": ("reg.<name>.gamma", 0.005, None),
    "augment_p": ("augment.p", 0.55, None),  # a probability: at most 1
    "ema_half_life": ("model.ema_half_life", 500000, None),
}
SETTINGS = ("warmup", "steps", "final")


def cosine(step: int, steps: int, start: float, final: float, warmup: int = 0) -> float:
    """0 -> `start` linearly over `warmup` steps, then half a cosine from `start` to `final` by
    `steps`, then `final`."""
    if step < warmup:
        return start * step / warmup
    if step >= steps:
        return final
    progress = (step - warmup) / (steps - warmup)
    return final + (start - final) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class Schedule:
    final: dict[str, float]  # the scheduled keys and the values they end at
    warmup: int = 0
    steps: int | None = None  # None: the run's budget in generator steps, fixed at the first step

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.final)

    def values(self, step: int, steps: int, starts: Mapping[str, float]) -> dict[str, float]:
        """{name: its value at `step`} for `starts` ({name: start value}); a name is a scheduled
        key, or gamma_<penalty> for each penalty's gamma."""
        return {name: cosine(step, steps, start, self.final[_key(name)], self.warmup) for name, start in starts.items()}

    def describe(self, steps: int) -> str:
        warmup = f" after {self.warmup} steps of warm-up" if self.warmup else ""
        verb = "follows" if len(self.keys) == 1 else "follow"
        return f"{', '.join(self.keys)} {verb} a cosine over {steps} generator steps{warmup}"


def _key(name: str) -> str:
    return "gamma" if name.startswith("gamma_") else name


def _shape(config: Mapping, key: str) -> str:
    """The shape `key` is scheduled with (unset: constant)."""
    return config.get(key) or "constant"


def parse_schedule(config: Mapping | None) -> Schedule | None:
    """The schedule a `schedule` config asks for (None when every key is constant), or a
    ConfigError naming the first value that cannot be scheduled and its fix."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(SCHEDULABLE) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"schedule.{unknown[0]} cannot be scheduled: the keys that can are "
                          f"{', '.join(SCHEDULABLE)} (e.g. schedule.lr=cosine).")
    final_values = dict(config.get("final") or {})
    if set(final_values) - set(SCHEDULABLE):
        name = sorted(set(final_values) - set(SCHEDULABLE))[0]
        raise ConfigError(f"schedule.final.{name} is not a schedulable key: use one of {', '.join(SCHEDULABLE)}.")
    final = {}
    for key, (source, example, high) in SCHEDULABLE.items():
        shape = _shape(config, key)
        if shape not in SHAPES:
            raise ConfigError(f"Unknown schedule.{key}={shape}: use one of {', '.join(SHAPES)} "
                              f"(e.g. schedule.{key}=cosine).")
        if shape == "constant":
            continue
        if final_values.get(key) is None:
            raise ConfigError(f"schedule.{key}=cosine needs the value {source} ends at: add "
                              f"schedule.final.{key}={example}.")
        require_number(f"schedule.final.{key}", final_values[key], low_allowed=True, example=example,
                       **({"high": high} if high is not None else {}))
        if key == "augment_p" and final_values[key] > 1:
            raise ConfigError(f"schedule.final.augment_p={final_values[key]} is a probability: use one in [0, 1], "
                              f"e.g. schedule.final.augment_p={example}.")
        final[key] = float(final_values[key])
    if not final:
        return None
    warmup, steps = config.get("warmup", 0), config.get("steps")
    require_number("schedule.warmup", warmup, integer=True, low_allowed=True, example=100)
    if steps is not None:
        require_number("schedule.steps", steps, integer=True, example=20000)
        if warmup >= steps:
            raise ConfigError(f"schedule.warmup={warmup} is not shorter than schedule.steps={steps}: "
                              f"use e.g. schedule.warmup={steps // 10}.")
    return Schedule(final, warmup, steps)


def check_schedule_fits(config: Mapping | None, optimizer: str, penalties: list, augment, ema_half_life) -> None:
    """A ConfigError when a key the `schedule` config schedules has nothing to act on in this run
    (checked before parse_schedule: that comes first, not the final value it would need)."""
    keys = {key for key in SCHEDULABLE if _shape(config or {}, key) != "constant"}
    if "beta2" in keys and optimizer != "adam":
        raise ConfigError(f"schedule.beta2=cosine schedules Adam's beta2, and model.optimizer={optimizer} has none: "
                          f"drop it, or use model.optimizer=adam.")
    if "gamma" in keys and not penalties:
        raise ConfigError("schedule.gamma=cosine schedules the penalties' gamma, and this run has none: add one, "
                          "e.g. reg=[r1,r2], or drop schedule.gamma.")
    if "augment_p" in keys and hasattr(augment, "steer"):
        raise ConfigError("schedule.augment_p=cosine and augment=ada both set augment.p: ADA steers it by itself, "
                          "so drop schedule.augment_p, or use augment=diffaugment to schedule it.")
    if "augment_p" in keys and augment is None:
        raise ConfigError("schedule.augment_p=cosine schedules augment.p, and augment=none has none: add "
                          "augment=diffaugment, or drop schedule.augment_p.")
    if "ema_half_life" in keys and ema_half_life is None:
        raise ConfigError("schedule.ema_half_life=cosine needs the half-life it starts from: add model.ema_half_life=0 "
                          "(images; R3GAN starts at 0).")


def starts(schedule: Schedule, hp, penalties: list, augment) -> dict[str, float]:
    """{name: start value} of every scheduled value (a key, or gamma_<penalty> for each penalty)."""
    configured = {"lr": hp.lr, "beta2": hp.beta2, "ema_half_life": hp.ema_half_life,
                  "augment_p": augment.p if augment is not None else None}
    values = {name: start for name, start in configured.items() if name in schedule.keys}
    if "gamma" in schedule.keys:
        values.update({f"gamma_{penalty.name}": penalty.gamma for penalty in penalties})
    return values


def length(schedule: Schedule, trainer, n_critic: int) -> int:
    """The schedule's length in generator steps: schedule.steps, else the run's budget
    (max_generator_steps, trainer.max_epochs); a ConfigError for a wall-clock budget alone."""
    if schedule.steps:
        return schedule.steps
    limits = [callback.max_generator_steps for callback in trainer.callbacks
              if getattr(callback, "max_generator_steps", None) is not None]
    if trainer.max_epochs not in (None, -1):
        limits.append(trainer.max_epochs * int(trainer.num_training_batches) // n_critic)
    if not limits:
        raise ConfigError("A schedule runs over the run's budget in generator steps, and a wall-clock budget alone "
                          "gives none: set schedule.steps=N (generator steps) or max_generator_steps=N.")
    return max(1, min(limits))


def apply(values: Mapping[str, float], optimizers, augment, ema) -> None:
    """Set scheduled values where they act: the optimizers' lr and beta2, DiffAugment's p, the
    EMA's half-life (the penalties read their gamma_<name> from `values` themselves)."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = values.get("lr", group["lr"])
            if "beta2" in values:
                group["betas"] = (group["betas"][0], values["beta2"])
    if "augment_p" in values:
        augment.p = values["augment_p"]
    if "ema_half_life" in values:
        ema.half_life = values["ema_half_life"]
