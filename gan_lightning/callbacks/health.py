"""Training health: the run reads its own signals and says when it has gone wrong, why, and what to try.

Scalars under health/ on the generator-step axis, at the logging steps (their one host sync):
- health/d_accuracy: the share of (real, fake) pairs of the latest critic batch that D ranks the
  right way round (ROC AUC of its scores; any loss, any scale).
- health/d_loss_ratio: D's loss on that batch over its least loss when it scores every image
  alike (a coin toss: 2 log 2 for bce, log 2 for relativistic, 2 for hinge). Near 0 with an accuracy near 1
  for long: D has won outright, ganhacks' "D loss goes to 0". Under R1/R2 a D may rank every pair
  right by a small margin (RpGAN's loss near log 2) and G still learns: that is no alarm; nor is a
  D that wins while one of the last two evaluations made a new best FID (a hinge D's G still learns).
- health/r_t: ADA's overfitting heuristic E[sign D(x)] (Karras et al. 2020), for losses whose
  scores are centred on 0 (bce, hinge).
- health/heldout_accuracy, with real images D never trains on (data.limit leaves them out):
  the share of (training image, held-out image) pairs that D scores higher for the training one.
  0.5 when D judges images it saw as it judges new ones; toward 1 as it memorises its data set
  (BigGAN section 4.2 saw held-out reals fall to D's fakes while training accuracy held).
- health/grad_norm_g, health/grad_norm_d: each net's gradient norm at a logging step.
At evaluations it reads the metrics: val/feature_spread (the generated images' variance in the
metric's feature space over the real images') and val/class_coverage for mode collapse, and a
FID that rose far above its best.

An alarm is one `Health alarm (<name>) at generator step N: <evidence>. <advice>` line, once per
run and kind; `on_alarm=stop` then stops the run as Ctrl-C does (last.ckpt kept, the resume
command printed). The state (what was raised, the streaks, the best FID) is in checkpoints.
"""

import inspect
import logging
import math

import lightning as L
import torch
from torch import Tensor

from gan_lightning.errors import ConfigError, as_typed
from gan_lightning.nets.conditional import with_labels
from gan_lightning.objective.losses import LOSSES

log = logging.getLogger(__name__)

ADVICE = {
    "d_overpowers": "G learns little from a D that always wins: lower model.lr or model.n_critic, add reg=r1, "
                    "or give G more capacity",
    "d_overfits": "D memorises its training images: try reg=[apa,lecam] (experiment=few_images), or a lower "
                  "reg.apa.target where it is on, augment=ada, or more data",
    "mode_collapse": "G draws too little variety: try reg=r1, a lower model.lr, or model.ema_decay=0.999 "
                     "for the samples; best.ckpt keeps the best evaluation",
    "fid_worse": "the run is getting worse: best.ckpt keeps the best evaluation; a lower model.lr or reg=r1 "
                 "usually steadies it",
}


def ranked_right(higher: Tensor, lower: Tensor) -> Tensor:
    """The share of pairs (a, b), a from `higher` and b from `lower`, with a > b (ties count half): ROC AUC."""
    a, b = higher.detach().flatten().float(), lower.detach().flatten().float()
    wins = (a[:, None] > b[None, :]).float() + 0.5 * (a[:, None] == b[None, :]).float()
    return wins.mean()


class TrainingHealth(L.Callback):
    def __init__(self, on_alarm: str = "warn", warmup_generator_steps: int = 100, patience: int = 10,
                 overpowered_accuracy: float = 0.99, overpowered_loss: float = 0.25, overfit_accuracy: float = 0.75, heldout_images: int = 128,
                 spread_floor: float = 0.2, coverage_floor: float = 0.7, fid_rise: float = 1.0):
        defaults = {key: parameter.default for key, parameter in inspect.signature(TrainingHealth).parameters.items()}

        def refuse(key: str, value, rule: str) -> None:
            raise ConfigError(f"callbacks.health.{key}={as_typed(value)} must be {rule}: "
                              f"e.g. callbacks.health.{key}={as_typed(defaults[key])}, the default.")

        if on_alarm not in ("warn", "stop"):
            refuse("on_alarm", on_alarm, "warn or stop")
        for key, value, low, high in (("overpowered_accuracy", overpowered_accuracy, 0.5, 1.0),
                                      ("overpowered_loss", overpowered_loss, 0.0, 1.0),
                                      ("overfit_accuracy", overfit_accuracy, 0.5, 1.0),
                                      ("spread_floor", spread_floor, 0.0, 1.0),
                                      ("coverage_floor", coverage_floor, 0.0, 1.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
                refuse(key, value, f"a number in ({low}, {high}]")
        for key, value in (("warmup_generator_steps", warmup_generator_steps), ("patience", patience),
                           ("heldout_images", heldout_images)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "patience" else 0):
                refuse(key, value, f"a whole number{' of at least 1' if key == 'patience' else ', 0 or more'}")
        if isinstance(fid_rise, bool) or not isinstance(fid_rise, int | float) or fid_rise <= 0:
            refuse("fid_rise", fid_rise, "a positive number (1.0: an alarm when FID doubles its best)")
        self.on_alarm, self.warmup, self.patience = on_alarm, warmup_generator_steps, patience
        self.overpowered_accuracy, self.overfit_accuracy = overpowered_accuracy, overfit_accuracy
        self.overpowered_loss = overpowered_loss
        self.heldout_count, self.spread_floor, self.coverage_floor = heldout_images, spread_floor, coverage_floor
        self.fid_rise = fid_rise
        # What a checkpoint carries: the alarms raised, the streaks of sick logging steps, every FID.
        self.raised: list[str] = []
        self.streaks = {"d_overpowers": 0, "d_overfits": 0}
        self.fids: list[tuple[int, float]] = []  # (step, FID) of every evaluation
        self.variety: tuple[float | None, float | None] = (None, None)  # the last evaluation's spread, coverage
        self._pairs: tuple[Tensor, Tensor] | None = None  # (training images, held-out images), uint8
        self._evaluated_at: int | None = None
        self._coin_toss_loss: float | None = None  # D's loss when it cannot tell; 0 for Wasserstein (no floor)

    # ---- set-up ---------------------------------------------------------------------------

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.watch_gradient_norms = True
        heldout = getattr(trainer.datamodule, "heldout_images", None)
        held = heldout(self.heldout_count) if heldout is not None and self.heldout_count else None
        if held is not None and len(held) > 0:
            seen = trainer.datamodule.real_images(len(held), seed=1, training_only=True)
            self._pairs = (seen, held[:len(seen)])  # as many of each (data.limit may train on fewer than it holds out)

    @property
    def evaluations(self) -> int:
        return len(self.fids)

    @staticmethod
    def _best(fids: list[tuple[int, float]]) -> tuple[int, float] | None:
        """The (step, FID) of the lowest FID among `fids`, the earliest of equals; None for none."""
        return min(fids, key=lambda pair: (pair[1], pair[0]), default=None)

    def state_dict(self) -> dict:
        return {"raised": list(self.raised), "streaks": dict(self.streaks), "evaluations": self.evaluations,
                "fids": list(self.fids), "variety": self.variety}

    def load_state_dict(self, state: dict) -> None:
        self.raised, self.streaks = list(state["raised"]), dict(state["streaks"])
        # a checkpoint from before every FID was kept holds the best one only
        best = [] if not math.isfinite(state.get("best_fid", math.inf)) else [(state["best_fid_step"], state["best_fid"])]
        self.fids = [tuple(pair) for pair in state.get("fids", best)]
        self.variety = tuple(state.get("variety", (None, None)))

    # ---- the logging steps ----------------------------------------------------------------

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not pl_module.at_logging_step() or pl_module.last_scores is None:
            return
        real_scores, fake_scores = pl_module.last_scores
        signals = {"health/d_accuracy": ranked_right(real_scores, fake_scores)}
        coin_toss = self._coin_toss(pl_module, real_scores, fake_scores)
        if coin_toss > 0:
            signals["health/d_loss_ratio"] = pl_module.discriminator_loss(real_scores, fake_scores).detach() / coin_toss
        loss = LOSSES.get(pl_module.own_loss or pl_module.hparams.loss)
        if loss is not None and loss.centred:
            signals["health/r_t"] = real_scores.detach().float().sign().mean()
        if self._pairs is not None:
            signals["health/heldout_accuracy"] = self._heldout_accuracy(pl_module)
        for name, value in signals.items():
            pl_module.report(name, value)
        values = dict(zip(signals, torch.stack(list(signals.values())).tolist(), strict=True))  # one host sync
        step = pl_module.generator_steps
        alarms = []  # (the streaks count from the start; an alarm waits for the warm-up's end)
        ratio = values.get("health/d_loss_ratio")  # (none for a loss without a floor: ranking alone)
        overpowered = self._streak("d_overpowers", values["health/d_accuracy"] >= self.overpowered_accuracy
                                   and (ratio is None or ratio <= self.overpowered_loss))
        heldout = values.get("health/heldout_accuracy")
        overfit = heldout is not None and self._streak("d_overfits", heldout >= self.overfit_accuracy)
        if step >= self.warmup:
            if overpowered and not self._fid_falls():  # a G whose FID still falls learns from a D that wins
                loss = "" if ratio is None else f" with a loss {ratio:.0%} of a coin toss's"
                alarms.append(("d_overpowers", f"D ranked {values['health/d_accuracy']:.1%} of real-fake pairs "
                               f"right{loss} at {self._in_a_row('d_overpowers')}"
                               f"{self._scores_text(pl_module)}{self._fid_text()}"))
            if overfit:
                r_t = f", r_t {values['health/r_t']:.2f}" if "health/r_t" in values else ""
                alarms.append(("d_overfits", f"D scores its {trainer.datamodule.limit:,} training images "
                               f"above held-out real ones in {heldout:.0%} of pairs at {self._in_a_row('d_overfits')} "
                               f"(0.5: no memory of them{r_t})"))
        self._raise(trainer, step, alarms)

    def _coin_toss(self, pl_module, real_scores: Tensor, fake_scores: Tensor) -> float:
        """D's least loss (the module's own discriminator_loss) when it gives every image the same
        score, tried from -2 to 2 (0 for bce, 0.5 for least_squares); one host sync, once."""
        if self._coin_toss_loss is None:
            alike = (pl_module.discriminator_loss(torch.full_like(real_scores, c), torch.full_like(fake_scores, c))
                     for c in torch.linspace(-2, 2, 41).tolist())
            self._coin_toss_loss = float(torch.stack([loss.detach().float() for loss in alike]).min())
        return self._coin_toss_loss

    def _fid_falls(self) -> bool:
        """Whether one of the last two evaluations made a new best FID (the first evaluation makes none):
        one evaluation above the one before is the noise of a falling FID, two without a best are a stall."""
        fids = [fid for _, fid in self.fids]
        return any(fids[i] < min(fids[:i]) for i in range(max(1, len(fids) - 2), len(fids)))

    def _fid_text(self) -> str:
        if len(self.fids) < 2:
            return ""
        last = self.fids[-2:] if len(self.fids) > 2 else self.fids[-1:]
        best_step, best = self._best(self.fids[:-len(last)])
        shown = ", ".join(f"{fid:.1f} at generator step {step:,}" for step, fid in last)
        return f", and FID made no new best since {best:.1f} at generator step {best_step:,} ({shown})"

    def _in_a_row(self, name: str) -> str:
        count = self.streaks[name]
        return f"{count} logging step{'s' if count > 1 else ''} in a row"

    def _streak(self, name: str, sick: bool) -> bool:
        self.streaks[name] = self.streaks[name] + 1 if sick else 0
        return self.streaks[name] >= self.patience

    @torch.no_grad()
    def _heldout_accuracy(self, pl_module) -> Tensor:
        """D (eval mode, uncompiled, unaugmented) on a fixed set of its training images and as many
        held-out ones; the global random stream is left untouched."""
        from gan_lightning.data import to_signed_unit

        seen, unseen = (to_signed_unit(images.to(pl_module.device)).to(pl_module.dtype) for images in self._pairs)
        labels = None
        if pl_module.conditional:  # a projection D scores an image against a class: the first class for all
            labels = torch.zeros(len(seen), dtype=torch.long, device=pl_module.device)
        discriminator = pl_module.discriminator
        was_training = discriminator.training
        discriminator.eval()
        try:
            return ranked_right(with_labels(discriminator, seen, labels), with_labels(discriminator, unseen, labels))
        finally:
            discriminator.train(was_training)

    @staticmethod
    def _scores_text(pl_module) -> str:
        """This logging step's D(x), D(G(z)) and G's gradient norm, as the module will log them."""
        parts = [f"{label} {float(value):.3g}" for name, label in
                 (("train/D_x", "D(x)"), ("train/D_G_z", "D(G(z))"), ("health/grad_norm_g", "G's gradient norm"))
                 if (value := pl_module.pending(name)) is not None]
        return f" ({', '.join(parts)})" if parts else ""

    # ---- evaluations ----------------------------------------------------------------------

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # After the metrics callback (listed before this one): this epoch's evaluation, if any, is in callback_metrics.
        step = pl_module.generator_steps
        evaluated = any(getattr(c, "evaluated_step", None) == step for c in trainer.callbacks)
        metrics = trainer.callback_metrics
        fid = metrics.get("val/fid")
        if not evaluated or fid is None or self._evaluated_at == step:
            return
        self._evaluated_at = step
        best = self._best(self.fids)  # before this evaluation
        self.fids.append((step, float(fid)))
        metrics_variety = tuple(None if metrics.get(name) is None else float(metrics[name])
                                for name in ("val/feature_spread", "val/class_coverage"))
        (last_spread, last_coverage), self.variety = self.variety, metrics_variety
        if self.evaluations == 1 or step < self.warmup:  # the first evaluation sees a G that has barely begun
            return
        fid, alarms = float(fid), []
        if fid > best[1] * (1 + self.fid_rise):
            alarms.append(("fid_worse", f"FID rose to {fid:.1f} from its best, {best[1]:.1f} at generator step "
                           f"{best[0]:,}"))
        # Too little variety, and none gained since the last evaluation: a young G gains it, a collapsed one does not.
        spread, coverage = metrics_variety
        growing = any(now is not None and before is not None and now > before
                      for now, before in ((spread, last_spread), (coverage, last_coverage)))
        if spread is not None and spread < self.spread_floor and not growing:
            alarms.append(("mode_collapse", f"the samples' variance in the metric's feature space is "
                           f"{spread:.1%} of the real images' (alarm below {self.spread_floor:.0%}, not rising)"))
        elif coverage is not None and coverage < self.coverage_floor * 10 and not growing:
            alarms.append(("mode_collapse", f"the samples cover {coverage:.0f} of the 10 digit classes "
                           f"(alarm below {self.coverage_floor * 10:.0f}, not rising)"))
        self._raise(trainer, step, alarms)

    # ---- alarms ---------------------------------------------------------------------------

    def _raise(self, trainer: L.Trainer, step: int, alarms: list[tuple[str, str]]) -> None:
        new = [(name, evidence) for name, evidence in alarms if name not in self.raised]
        if trainer.world_size > 1:  # every rank acts on rank zero's alarms
            new = trainer.strategy.broadcast(new, src=0)
        for name, evidence in new:
            self.raised.append(name)
            if trainer.is_global_zero:
                log.warning("Health alarm (%s) at generator step %d: %s. Try: %s.", name, step, evidence, ADVICE[name])
        if new and self.on_alarm == "stop":
            stopper = next((c for c in trainer.callbacks if hasattr(c, "request_stop")), None)
            if stopper is None:
                from gan_lightning.errors import RunStopped

                raise RunStopped(f"Stopped by the health alarm ({new[0][0]}) at generator step {step} "
                                 f"(callbacks.health.on_alarm=stop); no checkpoint is written without the "
                                 f"checkpoint callback.", exit_code=1)
            stopper.request_stop(f"the health alarm ({new[0][0]}, callbacks.health.on_alarm=stop)")
