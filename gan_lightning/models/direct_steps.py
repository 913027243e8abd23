"""Backward passes and optimizer steps without Lightning's wrappers, where those would only call hooks.

`manual_backward` and `LightningOptimizer.step` go through the strategy and the precision plugin,
which call on_before_backward, on_after_backward and on_before_optimizer_step on every callback
and on the module, listened to or not: Python between kernels that a small net's step can feel
(docs/measurements.md, the speed section). On one device in 32-bit precision
(trainer.precision=32-true, the default; the plain Precision plugin), with no callback and no
module hook listening, the wrappers do nothing but `loss.backward()`, `optimizer.step()` and
Lightning's count of optimizer steps (trainer.global_step): those are all a direct step does.
Anything else (DDP, AMP's loss scaling, half precision, a callback that reads gradients) takes
Lightning's path.
"""

import lightning as L
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden

HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def direct_steps_allowed(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """Whether Lightning's backward and optimizer-step wrappers would only call hooks nobody defines."""
    if type(trainer.strategy) is not SingleDeviceStrategy or type(trainer.precision_plugin) is not Precision:
        return False
    if any(is_overridden(hook, module, L.LightningModule) for hook in ("backward", *HOOKS)):
        return False
    if any(is_overridden(hook, callback, L.Callback) for callback in trainer.callbacks for hook in HOOKS):
        return False
    # Lightning's manual loop counts optimizer steps through these two (trainer.global_step).
    optimizers = module.optimizers()
    return all(callable(getattr(optimizer, name, None))
               for optimizer in (optimizers if isinstance(optimizers, list) else [optimizers])
               for name in ("_on_before_step", "_on_after_step"))


def optimizer_step(optimizer: LightningOptimizer) -> None:
    """`optimizer.step()` as Lightning's wrapper does it when no hook listens: the step, counted.
    Private Lightning (the step counters' hooks): there is no public way to count a step Lightning did not take."""
    optimizer._on_before_step()
    optimizer.optimizer.step()
    optimizer._on_after_step()
