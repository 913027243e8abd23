from gan_lightning.callbacks.budget import GeneratorStepBudget
from gan_lightning.callbacks.checkpoint import RunCheckpoint
from gan_lightning.callbacks.health import TrainingHealth
from gan_lightning.callbacks.metrics import QualityMetrics
from gan_lightning.callbacks.progress import EpochProgressBar
from gan_lightning.callbacks.samples import SampleGrid

__all__ = ["EpochProgressBar", "GeneratorStepBudget", "QualityMetrics", "RunCheckpoint", "SampleGrid", "TrainingHealth"]
