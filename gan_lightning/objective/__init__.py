"""The objective a run trains with, from its config groups: loss + reg + augment (+ net.spectral_norm).

    loss     bce | wasserstein | hinge | least_squares | relativistic      (losses.py)
    reg      none | gp | r1 | r2 | clip | lecam | apa, several as reg=[r1,lecam]
             (penalties.py; LeCam: lecam.py; APA: adaptive.py)
    augment  none | diffaugment | ada                                       (augment.py, adaptive.py)

The module's loop applies them in a fixed order: APA swaps reals for fakes -> augment -> D ->
loss + LeCam + penalties -> critic step -> clip, and ADA's and APA's p adjusted.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from lightning.pytorch.utilities import rank_zero_only

from gan_lightning.errors import ConfigError
from gan_lightning.objective.adaptive import PseudoAugment
from gan_lightning.objective.augment import AdaptiveAugment, DiffAugment, build_augment
from gan_lightning.objective.lecam import LeCam
from gan_lightning.objective.losses import LOSSES, Loss
from gan_lightning.objective.penalties import Penalty, parse_reg

log = logging.getLogger(__name__)


@dataclass
class Objective:
    name: str
    loss: Loss
    penalties: list[Penalty] = field(default_factory=list)
    clip: float | None = None
    augment: DiffAugment | None = None
    lecam: LeCam | None = None
    pseudo_augment: PseudoAugment | None = None

    @property
    def adaptive(self) -> list:
        """The probabilities steered by D's real scores (ADA's, APA's)."""
        steered = [self.augment.steer] if isinstance(self.augment, AdaptiveAugment) else []
        return steered + ([self.pseudo_augment] if self.pseudo_augment is not None else [])


def build_objective(loss: str, reg: Mapping | None, augment: Mapping | None, net: Mapping) -> Objective:
    """The pieces the config names, or a ConfigError naming the value and its fix."""
    if loss not in LOSSES:
        raise ConfigError(f"Unknown loss={loss!r}: use one of loss={', loss='.join(LOSSES)}.")
    penalties, clip, others = parse_reg(reg)
    objective = Objective(loss, LOSSES[loss], penalties, clip, build_augment(augment),
                          LeCam(**others["lecam"]) if "lecam" in others else None,
                          PseudoAugment(**others["apa"]) if "apa" in others else None)
    if objective.adaptive and not LOSSES[loss].centred:
        asked = "augment=ada" if isinstance(objective.augment, AdaptiveAugment) else "reg=apa"
        raise ConfigError(f"{asked} steers its p by r_t = E[sign D(x)], which needs D's scores centred on 0, "
                          f"and loss={loss} has no such centre: use loss=bce or loss=hinge.")
    _warn_if_unwise(objective, bool(net.get("spectral_norm")))
    return objective


@rank_zero_only
def _warn_if_unwise(objective: Objective, spectral_norm: bool) -> None:
    """Legal combinations that usually go wrong, said once when the module is built."""
    if objective.name == "wasserstein" and not (objective.penalties or objective.clip or spectral_norm):
        log.warning("loss=wasserstein without a gradient penalty, clipping or spectral norm leaves the critic "
                    "unconstrained, so its scores grow without bound: add reg=gp (WGAN-GP; with others, "
                    "e.g. reg=[gp,lecam]), reg=clip (WGAN) or net.spectral_norm=true.")
    if objective.clip is not None and spectral_norm:
        log.warning("reg=clip with net.spectral_norm=true clips the weights before they are normalised, "
                    "which constrains the critic twice: use one of them.")


def critic_norm_for(preferred: str, objective: Objective) -> str:
    """The variant's normalisation in a conv critic, made per-sample when a gradient penalty needs it."""
    return "layer" if preferred == "batch" and objective.penalties else preferred
