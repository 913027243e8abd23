"""The loop every variant shares: n_critic critic steps (one per batch), then one G step.

The objective is composed from config groups (objective.py): a loss, penalties or clipping,
DiffAugment, spectral norm. A variant is a preset of those pieces (its defaults) and may
override the hooks `discriminator_loss`, `generator_loss`, `penalty` and `after_critic_step`
for an idea of its own. Noise, counters, optimizers, logging and sampling live here, once.

With `num_classes` (conditional=true) batches are (images, labels): G draws each fake for its
real partner's label, D scores every image against its label (a projection D), and the
penalties see the same labels; `sample(n, labels=...)` draws the classes asked for.
"""

import copy
import math
from collections.abc import Mapping, Sequence
from functools import partial

import lightning as L
import torch
from torch import Tensor

from gan_lightning.errors import ConfigError, Diverged, require_number
from gan_lightning.nets import build_nets
from gan_lightning.nets.conditional import with_labels
from gan_lightning.objective import build_objective, critic_norm_for
from gan_lightning.penalties import clip_weights

OPTIMIZERS = ("adam", "rmsprop")
# What the divergence watch looks at, in the order it reports them.
WATCHED = ("D(x)", "D(G(z))", "loss_d", "loss_g")


class GANModule(L.LightningModule):
    # Normalisation in a conv critic (batch | layer | none); "batch" becomes the per-sample
    # "layer" when a gradient penalty is on.
    critic_norm = "batch"

    def __init__(
        self,
        image_shape: Sequence[int],
        net: Mapping,
        latent_dim: int = 100,
        lr: float = 2e-4,
        beta1: float = 0.5,
        beta2: float = 0.999,
        optimizer: str = "adam",
        n_critic: int = 1,
        num_samples: int = 64,
        ema_decay: float | None = None,
        loss: str = "bce",
        reg: Mapping | None = None,
        augment: Mapping | None = None,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
    ):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"Unknown model.optimizer={optimizer!r}: use one of {', '.join(OPTIMIZERS)}.")
        require_number("model.lr", lr)
        for name, value in (("latent_dim", latent_dim), ("n_critic", n_critic), ("num_samples", num_samples)):
            require_number(f"model.{name}", value, integer=True)
        for name, value in (("beta1", beta1), ("beta2", beta2)):
            require_number(f"model.{name}", value, high=1, low_allowed=True)
        if ema_decay is not None:
            require_number("model.ema_decay", ema_decay, high=1)
        if num_classes is not None:
            require_number("num_classes", num_classes, integer=True)
            if class_names is not None and len(class_names) != num_classes:
                raise ConfigError(f"class_names has {len(class_names)} names for {num_classes} classes.")
        self.objective = build_objective(loss, reg, augment, net)
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator, self.discriminator = build_nets(net, image_shape, latent_dim,
                                                        critic_norm_for(self.critic_norm, self.objective),
                                                        num_classes)
        self.augment = self.objective.augment  # a module: it moves with the model
        # Exponential moving average of G's weights (used for samples and metrics when on).
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if ema_decay else None
        # The noise behind every sample grid: a buffer, so it is saved in checkpoints.
        self.register_buffer("fixed_noise", torch.randn(num_samples, latent_dim))
        # Our own counters: trainer.global_step counts the optimizer steps of both nets.
        self.critic_steps = 0
        self.generator_steps = 0
        # Set by the QualityMetrics callback when it logs FID as hp_metric.
        self.has_quality_metric = False
        # Each penalty's latest value, logged as train/<name> (lazy ones are not computed every step).
        self._penalty_values: dict[str, Tensor] = {}
        # Per watched value, the first generator step at which it was not finite (0: never);
        # kept on the device and read only at logging steps and before a checkpoint.
        self._diverged_at: Tensor | None = None

    # ---- the objective's pieces, as hooks a variant may override -----------------------

    @property
    def scores_are_logits(self) -> bool:
        """D's scores are logits of "real" (BCE: train/D_x is a probability) or raw values (others)."""
        return self.objective.loss.scores_are_logits

    def critic(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """D's scores for `images` (of classes `labels` when conditional), augmented first when
        augment=diffaugment (every D call goes here)."""
        return with_labels(self.discriminator, images if self.augment is None else self.augment(images), labels)

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return self.objective.loss.discriminator(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        """`real_scores` is given when the loss pairs fakes with real images (relativistic)."""
        if self.objective.loss.pairs:
            return self.objective.loss.generator(fake_scores, real_scores)
        return self.objective.loss.generator(fake_scores)

    def penalty(self, real: Tensor, fake: Tensor, labels: Tensor | None = None) -> Tensor | None:
        """The weighted sum of the penalties due at this critic step (None if none is due).

        Each is computed through `critic` (so through the augmentation too, and against the
        pair's label when conditional) and recorded for logging; a lazy one (reg.every=k) runs
        on every k-th critic step with its weight times k.
        """
        total = None
        critic = self.critic if labels is None else partial(self.critic, labels=labels)
        for penalty in self.objective.penalties:
            if self.critic_steps % penalty.every:
                continue
            value = penalty(critic, real, fake, scaler=self.grad_scaler)
            self._penalty_values[penalty.name] = value.detach()
            total = penalty.weight * value if total is None else total + penalty.weight * value
        return total

    def after_critic_step(self) -> None:
        """Runs after every critic optimizer step: weight clipping when reg=clip."""
        if self.objective.clip is not None:
            clip_weights(self.discriminator, self.objective.clip)

    # ---- the shared loop ---------------------------------------------------------------

    def noise(self, n: int) -> Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    @property
    def conditional(self) -> bool:
        return self.hparams.get("num_classes") is not None

    def class_labels(self, n: int, labels: Tensor | int | None = None) -> Tensor | None:
        """`n` class indices for G: `labels` checked (a tensor of n, or one int for all), uniform
        random classes when None; None for an unconditional module."""
        if not self.conditional:
            if labels is not None:
                raise ValueError("This model was trained without conditional=true: it takes no labels.")
            return None
        classes = self.hparams.num_classes
        if labels is None:
            return torch.randint(classes, (n,), device=self.device)
        labels = torch.full((n,), labels) if isinstance(labels, int) else torch.as_tensor(labels)
        if labels.shape != (n,) or labels.is_floating_point():
            raise ValueError(f"labels must be an int or {n} integer class indices, got shape {tuple(labels.shape)}.")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < classes:
            raise ValueError(f"labels must lie in 0..{classes - 1} (this model has {classes} classes), "
                             f"got {int(labels.min())}..{int(labels.max())}.")
        return labels.long().to(self.device)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return with_labels(self.generator, z, labels)

    def configure_optimizers(self):
        return self._optimizer(self.generator), self._optimizer(self.discriminator)

    def _optimizer(self, net: torch.nn.Module) -> torch.optim.Optimizer:
        hp = self.hparams
        if hp.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=hp.lr)
        return torch.optim.Adam(net.parameters(), lr=hp.lr, betas=(hp.beta1, hp.beta2))

    def on_fit_start(self) -> None:
        # Scalars are logged once per generator step (x-axis: generator steps), so the
        # trainer's logging interval, which counts batches, is made to count G steps too;
        # it then always lands on a batch that logged fresh values.
        if not hasattr(self, "_log_every_n_generator_steps"):
            self._log_every_n_generator_steps = self.trainer.log_every_n_steps
        self.trainer.log_every_n_steps = self._log_every_n_generator_steps * self.hparams.n_critic

    def on_train_start(self) -> None:
        # seed_everything gives every DDP rank the same RNG stream, hence the same z (and
        # interpolates) on every GPU: offset the stream by rank so each draws its own.
        if self.trainer.world_size > 1:
            torch.manual_seed(torch.initial_seed() + self.global_rank)

    @property
    def grad_scaler(self):
        """The fp16 AMP GradScaler when training with precision=16-mixed, else None.

        A penalty that differentiates through the critic with torch.autograd.grad needs it:
        Lightning scales the losses it backpropagates, not gradients taken by hand.
        """
        trainer = self._trainer
        return getattr(trainer.precision_plugin, "scaler", None) if trainer is not None else None

    def training_step(self, batch: Tensor | tuple[Tensor, Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        # Conditional: each fake is drawn for its real partner's label, so D sees the data's
        # class frequencies on both sides and a penalty's real-fake pairs share their label.
        real, labels = batch if self.conditional else (batch, None)
        n = real.shape[0]

        with self.toggled_optimizer(opt_d):
            # detach, not no_grad: under autocast no_grad leaves a stale weight cache that
            # starves G of gradients later (Lightning #19517).
            fake = self(self.noise(n), labels).detach()
            real_scores, fake_scores = self.critic(real, labels), self.critic(fake, labels)
            loss_d = self.discriminator_loss(real_scores, fake_scores)
            # (labels only when conditional: a variant's own penalty(real, fake) keeps working)
            penalty = self.penalty(real, fake) if labels is None else self.penalty(real, fake, labels)
            if penalty is not None:
                loss_d = loss_d + penalty
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
        self.after_critic_step()
        self.critic_steps += 1
        if self.critic_steps % self.hparams.n_critic:
            return

        with self.toggled_optimizer(opt_g):
            fake_scores_g = self.critic(self(self.noise(n), labels), labels)
            if self.objective.loss.pairs:  # relativistic: fakes are scored against real images
                loss_g = self.generator_loss(fake_scores_g, self.critic(real, labels))
            else:  # (a variant's own generator_loss may take the fake scores only)
                loss_g = self.generator_loss(fake_scores_g)
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            opt_g.step()
        self.generator_steps += 1
        if self.generator_ema is not None:
            self._update_ema()
        self._watch_divergence(real_scores.detach(), fake_scores.detach(), loss_d.detach(), loss_g.detach())
        self._log_step(loss_d.detach(), loss_g.detach(), real_scores.detach(), fake_scores.detach())

    # ---- divergence: stop at the step, never save NaN weights --------------------------------

    def _watch_divergence(self, *values: Tensor) -> None:
        # No host sync here: the step of the first non-finite value is recorded on the device.
        bad = torch.stack([~torch.isfinite(v).all() for v in values])
        if self._diverged_at is None:
            self._diverged_at = torch.zeros(len(WATCHED), dtype=torch.long, device=bad.device)
        first = (self._diverged_at == 0) & bad
        self._diverged_at = torch.where(first, self.generator_steps, self._diverged_at)

    def raise_if_diverged(self) -> None:
        """A Diverged error naming the step and the value when a loss or D's scores went NaN or infinite."""
        if self._diverged_at is None:
            return
        steps = self._diverged_at.tolist()  # the one host sync, at logging steps and checkpoints
        if not any(steps):
            return
        step = min(s for s in steps if s)
        raise Diverged(", ".join(name for s, name in zip(steps, WATCHED) if s == step), step)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # Checked where Lightning reads the logged values anyway (the logging interval) and at
        # the end of each epoch, before the epoch's grids, metrics and checkpoint.
        generator_stepped = self.critic_steps % self.hparams.n_critic == 0
        at_log_step = generator_stepped and self.generator_steps % self._log_every_n_generator_steps == 0
        if at_log_step or self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.raise_if_diverged()

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up (as in TF's ExponentialMovingAverage): early on the average follows G closely
        # instead of remembering its random initialisation.
        decay = min(self.hparams.ema_decay, (1 + self.generator_steps) / (10 + self.generator_steps))
        for averaged, current in zip(self.generator_ema.parameters(), self.generator.parameters()):
            averaged.lerp_(current, 1 - decay)
        self._ema_statistics_stale = True

    @torch.no_grad()
    def refresh_ema_statistics(self, batches: int = 8, batch_size: int = 256) -> None:
        """Recompute the EMA generator's BatchNorm statistics with its own weights.

        G's running statistics belong to G's current weights, not to the averaged ones; eval-mode
        samples from the EMA need "standing statistics" of their own. Runs whenever the EMA is
        read (sample(), state_dict()) after it changed, on noise of its own (the training
        random stream is left as it was).
        """
        norms = [m for m in self.generator_ema.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if norms:
            momenta = [norm.momentum for norm in norms]
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                was_training = self.generator_ema.training
                self.generator_ema.train()
                for norm in norms:
                    norm.reset_running_stats()
                    norm.momentum = None  # a plain average over the batches below
                for _ in range(batches):
                    with_labels(self.generator_ema, self.noise(batch_size), self.class_labels(batch_size))
                for norm, momentum in zip(norms, momenta):
                    norm.momentum = momentum
                self.generator_ema.train(was_training)
        self._ema_statistics_stale = False

    def state_dict(self, *args, **kwargs):
        if getattr(self, "_ema_statistics_stale", False):
            self.refresh_ema_statistics()
        return super().state_dict(*args, **kwargs)

    def _log_step(self, loss_d, loss_g, real_scores, fake_scores) -> None:
        # Tensors go to self.log as they are: Lightning converts them to numbers only when it
        # writes to the logger (every log_every_n_steps), so no host sync per step.
        metrics = {"train/loss_d": loss_d, "train/loss_g": loss_g}
        if self.scores_are_logits:
            metrics["train/D_x"] = torch.sigmoid(real_scores).mean()
            metrics["train/D_G_z"] = torch.sigmoid(fake_scores).mean()
            # At the optimal D, loss_d = 2 log 2 - 2 JSD(data, G): the critic's divergence estimate.
            divergence = math.log(2) - loss_d / 2
        else:
            metrics["train/D_x"] = real_scores.mean()
            metrics["train/D_G_z"] = fake_scores.mean()
            # The gap between D's mean scores: for the Wasserstein loss, the critic's estimate of W1.
            divergence = metrics["train/D_x"] - metrics["train/D_G_z"]
            if self.objective.name == "wasserstein":
                metrics["train/wasserstein"] = divergence
        metrics.update({f"train/{name}": value for name, value in self._penalty_values.items()})
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=real_scores.shape[0])
        self.log("step", float(self.generator_steps), on_step=True, on_epoch=False)
        # The critic's divergence estimate, per epoch (averaged over DDP ranks once per epoch);
        # hp_metric (the run's quality number) when no FID is computed.
        name = "train/divergence" if self.has_quality_metric else "hp_metric"
        self.log(name, divergence, on_step=False, on_epoch=True, batch_size=real_scores.shape[0], sync_dist=True)

    def on_train_epoch_end(self) -> None:
        self.log("step", float(self.generator_steps), sync_dist=True)  # x-axis of the epoch-level scalars

    # ---- sampling and state ------------------------------------------------------------

    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The EMA generator when model.ema_decay is on, else G itself."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def sample(self, n: int | None = None, noise: Tensor | None = None, labels: Tensor | int | None = None) -> Tensor:
        """`n` images (or one per row of `noise`) in [-1, 1], shaped like the data, on self.device.

        A conditional module draws class `labels` (n class indices, or one int for all n;
        uniformly random classes when None). Uses the EMA generator when it is on. G runs in
        eval mode (BatchNorm uses its running statistics), so a sample does not depend on the
        other images drawn with it.
        """
        if noise is None:
            if n is None or n < 1:
                raise ValueError(f"sample() needs a positive n or a noise tensor, got n={n}.")
            noise = self.noise(n)
        labels = self.class_labels(noise.shape[0], labels)
        if getattr(self, "_ema_statistics_stale", False):
            self.refresh_ema_statistics()
        generator = self.sampling_generator
        was_training = generator.training
        generator.eval()
        try:
            return with_labels(generator, noise.to(self.device), labels)
        finally:
            generator.train(was_training)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # What a resume checks before loading weights: the variant (optimizer states differ
        # between variants) and the data the nets were sized for.
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        checkpoint["gan_lightning"] = {"variant": type(self).__name__,
                                       "data": getattr(datamodule, "name", None)}

    def get_extra_state(self) -> dict:
        # The counters travel in the state dict: checkpoints, load_from_checkpoint and
        # ddp_spawn's hand-back of rank 0's weights to the launching process all keep them.
        return {"critic_steps": self.critic_steps, "generator_steps": self.generator_steps}

    def set_extra_state(self, state: dict) -> None:
        self.critic_steps = int(state["critic_steps"])
        self.generator_steps = int(state["generator_steps"])
