from gan_lightning.callbacks.budget import GeneratorStepBudget
from gan_lightning.callbacks.samples import SampleGrid

__all__ = ["GeneratorStepBudget", "SampleGrid"]
