"""The loop every variant shares: n_critic critic steps (one per batch), then one G step.

The objective is composed from config groups (gan_lightning/objective/): a loss, penalties
or clipping, DiffAugment, spectral norm. A variant is a preset of those pieces (its
conf/model/<preset>.yaml) and may override the hooks `discriminator_loss`, `generator_loss`,
`penalty` and `after_critic_step` for an idea of its own. The rooms beside this one hold the
rest: the preset and its checks (hparams.py), the EMA generator (ema.py), values that change
with the step (schedule.py), the divergence watch (divergence.py), class labels (labels.py),
backward passes and steps without Lightning's hook calls when none listens (direct_steps.py).

With `num_classes` (conditional=true) batches are (images, labels): G draws each fake for its
real partner's label, D scores every image against its label (a projection D), and the
penalties see the same labels; `sample(n, labels=...)` draws the classes asked for.
"""

import inspect
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial

import lightning as L
import torch
from torch import Tensor

import gan_lightning.models.direct_steps as direct_steps
import gan_lightning.models.schedule as schedules
from gan_lightning.loggers.write_now import write_now
from gan_lightning.models.checkpoint_file import CHECKPOINT_FORMAT, refuse_other_format
from gan_lightning.models.compiled import compile_nets
from gan_lightning.models.divergence import DivergenceWatch
from gan_lightning.models.ema import EMA
from gan_lightning.models.hparams import arguments_with_preset, check_hparams, check_own_loss
from gan_lightning.models.labels import class_labels
from gan_lightning.nets import build_nets
from gan_lightning.nets.conditional import with_labels
from gan_lightning.objective import build_objective, critic_norm_for
from gan_lightning.objective.penalties import clip_weights

log = logging.getLogger(__name__)


def adam(params, **options) -> torch.optim.Adam:
    """Adam with one fused kernel per weight where the device has it (CPU and CUDA since torch 2.4):
    the same update, faster (benchmarks/optimizer_step.py), and its step counter stays on the
    device, so a step reads nothing back to the host."""
    params = list(params)
    fused = torch.__version__ >= "2.4" and all(p.device.type in ("cpu", "cuda") and p.is_floating_point()
                                                for p in params)
    optimizer = torch.optim.Adam(params, fused=fused or None, **options)
    optimizer.register_load_state_dict_post_hook(_moments_in_weights_order)
    return optimizer


def _moments_in_weights_order(optimizer: torch.optim.Optimizer) -> None:
    """After loading a checkpoint: each moment in its weight's memory order. The fused CPU kernel
    walks the raw storage of both, so moments saved with the other `channels_last` setting (a
    resume that switched it) would be paired with the wrong weights' elements."""
    for group in optimizer.param_groups:
        for weight in group["params"]:
            state = optimizer.state.get(weight, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == weight.shape and value.stride() != weight.stride():
                    state[key] = torch.empty_like(weight, dtype=value.dtype).copy_(value)


class GANModule(L.LightningModule):
    # The conf/model/<preset>.yaml whose values fill whatever the constructor is not given.
    preset = "gan"
    # Normalisation in a conv critic (batch | layer | none); "batch" becomes the per-sample
    # "layer" when a gradient penalty is on.
    critic_norm = "batch"
    # A variant whose discriminator_loss/generator_loss hooks compute a loss of their own names
    # it here (a `loss` group name: how its scores are logged), and `loss=` cannot change it.
    own_loss: str | None = None

    def __init__(self, image_shape: Sequence[int], net: Mapping, latent_dim: int | None = None,
                 lr: float | None = None, beta1: float | None = None, beta2: float | None = None,
                 optimizer: str | None = None, n_critic: int | None = None, num_samples: int | None = None,
                 ema_decay: float | None = None, ema_half_life: float | None = None, loss: str | None = None,
                 reg: Mapping | None = None, augment: Mapping | None = None, schedule: Mapping | None = None,
                 num_classes: int | None = None, class_names: Sequence[str] | None = None):
        super().__init__()
        self.save_hyperparameters(arguments_with_preset(inspect.currentframe(), self.preset))
        hp = self.hparams
        check_hparams(hp)
        check_own_loss(type(self), GANModule, hp.loss)
        self.automatic_optimization = False
        self.objective = build_objective(hp.loss or "bce", hp.reg, hp.augment, hp.net)
        self.generator, self.discriminator = build_nets(hp.net, hp.image_shape, hp.latent_dim,
                                                        critic_norm_for(self.critic_norm, self.objective),
                                                        hp.num_classes)
        # Modules, so they move with the model and checkpoints carry their state (ADA's and APA's p, LeCam's averages)
        self.augment = self.objective.augment
        self.lecam = self.objective.lecam
        self.pseudo_augment = self.objective.pseudo_augment
        # The exponential moving average of G, for samples and metrics when on.
        self.ema = (EMA(self.generator, hp.ema_decay, self._generator_inputs, half_life=hp.ema_half_life)
                    if hp.ema_decay or hp.ema_half_life is not None else None)
        self.generator_ema = self.ema.module if self.ema else None
        # Values that change with the generator step (schedule.py), None when all are constant.
        schedules.check_schedule_fits(hp.get("schedule"), hp.optimizer, self.objective.penalties, self.augment,
                                      hp.ema_half_life)
        self.schedule = schedules.parse_schedule(hp.get("schedule"))
        if self.schedule is not None:
            self._schedule_starts = schedules.starts(self.schedule, hp, self.objective.penalties, self.augment)
        self._schedule_steps: int | None = None  # the schedule's length, fixed at the first step (and saved)
        self._schedule_said = False  # said once a process: a resumed run says its schedule again
        self._scheduled: dict[str, float] = {}  # this step's scheduled values, logged as schedule/<name>
        # The noise behind every sample grid: a buffer, so it is saved in checkpoints.
        self.register_buffer("fixed_noise", torch.randn(hp.num_samples, hp.latent_dim))
        # Our own counters: trainer.global_step counts the optimizer steps of both nets.
        self.critic_steps = 0
        self.generator_steps = 0
        self.divergence_watch = DivergenceWatch()
        # What this step reports (report()): written at the logging steps, the latest value of each name.
        self._reported: dict[str, Tensor | float] = {}
        self._scores: tuple[Tensor, Tensor] | None = None  # watch_scores(): the latest critic step's
        self._eager = False  # eager_critic(): D uncompiled, inside penalties
        # This epoch's sum of the critic's divergence estimate (times batch size) and its images.
        self._divergence_sum: Tensor | None = None
        self._divergence_images = 0
        # compile=true: torch.compile wrappers of G and D (compiled.py), not submodules: {} when eager.
        self._compiled: dict[str, torch.nn.Module] = {}
        self._direct_steps = False  # set as training starts (direct_steps.py)
        # health/grad_norm_d and health/grad_norm_g at the logging steps (the health callback turns it on).
        self.watch_gradient_norms = False

    # ---- the steps and the objective's pieces, as hooks a variant may override ------------

    def critic_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        """The critic's loss on one batch of real images (`labels` when conditional): the base
        loop toggles, backpropagates, steps and counts around it. Fakes are drawn for the real
        images' labels; `watch_scores` gives D(x), D(G(z)) and the divergence watch their values."""
        # detach, not no_grad: under autocast no_grad leaves a stale weight cache that
        # starves G of gradients later (Lightning #19517).
        fake = self(self.noise(real.shape[0]), labels).detach()
        if self.pseudo_augment is not None:  # reg=apa: some reals shown as their fake partners
            real = self.pseudo_augment(real, fake)
        real_scores, fake_scores = self.critic(real, labels), self.critic(fake, labels)
        loss = self.discriminator_loss(real_scores, fake_scores)
        self.watch_scores(real_scores, fake_scores)
        if self.lecam is not None:
            lecam = self.lecam(real_scores, fake_scores)
            self.report("train/lecam", lecam)
            loss = loss + self.lecam.gamma * lecam
        with self.eager_critic():  # (labels only when conditional: a variant's own penalty(real, fake) keeps working)
            penalty = self.penalty(real, fake) if labels is None else self.penalty(real, fake, labels)
        return loss if penalty is None else loss + penalty

    def generator_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        """G's loss on one batch: fakes drawn for the real images' labels, scored by `critic`
        (the real batch is there for losses that compare, like relativistic or feature matching)."""
        fake_scores = self.critic(self(self.noise(real.shape[0]), labels), labels)
        if self.objective.loss.pairs:  # relativistic: fakes are scored against real images
            return self.generator_loss(fake_scores, self.critic(real, labels))
        return self.generator_loss(fake_scores)  # (a variant's own generator_loss may take the fake scores only)

    def critic(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """D's scores for `images` (of classes `labels` when conditional), augmented first when
        augment=diffaugment: every D call goes here (compiled under compile=true, eager inside
        `eager_critic()`, as in every penalty, which differentiates twice)."""
        discriminator = self.discriminator if self._eager else self._compiled.get("discriminator", self.discriminator)
        return with_labels(discriminator, images if self.augment is None else self.augment(images), labels)

    @contextmanager
    def eager_critic(self) -> Iterator[None]:
        """Inside: `critic` runs D uncompiled, so its scores can be differentiated twice (torch.compile
        cannot: PyTorch issue 91469). The base wraps `penalty` in it."""
        outer, self._eager = self._eager, True
        try:
            yield
        finally:
            self._eager = outer

    def critic_features(self, images: Tensor) -> Tensor:
        """D's last hidden features of `images` (augmented as every D input is), flattened: what
        feature matching compares (class labels do not enter them: a projection D adds its label
        term after them)."""
        features = self._compiled.get("features", self.discriminator.features)
        return features(images if self.augment is None else self.augment(images)).flatten(1)

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return self.objective.loss.discriminator(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        """`real_scores` is given when the loss pairs fakes with real images (relativistic)."""
        if self.objective.loss.pairs:
            return self.objective.loss.generator(fake_scores, real_scores)
        return self.objective.loss.generator(fake_scores)

    def penalty(self, real: Tensor, fake: Tensor, labels: Tensor | None = None) -> Tensor | None:
        """The weighted sum of the penalties due at this critic step (None if none is due), each
        through `critic` (augmentation and labels included); a lazy one (reg.every=k) runs on
        every k-th critic step with its weight times k."""
        total = None
        critic = self.critic if labels is None else partial(self.critic, labels=labels)
        for penalty in self.objective.penalties:
            if self.critic_steps % penalty.every:
                continue
            with self.eager_critic():
                value = penalty(critic, real, fake, scaler=self.grad_scaler)
            self.report(f"train/{penalty.name}", value)
            gamma = self._scheduled.get(f"gamma_{penalty.name}")
            weight = penalty.weight if gamma is None else penalty.weight_at(gamma)
            total = weight * value if total is None else total + weight * value
        return total

    def after_critic_step(self) -> None:
        """Runs after every critic optimizer step: weight clipping when reg=clip; ADA's and APA's p
        (augment=ada, reg=apa) follow D's latest real scores."""
        if self.objective.clip is not None:
            clip_weights(self.discriminator, self.objective.clip)
        if self._scores is not None:
            for steered in self.objective.adaptive:
                steered.observe(self._scores[0], self.critic_steps + 1)

    # ---- what a step reports -------------------------------------------------------------

    def report(self, name: str, value: Tensor | float) -> None:
        """`value` logged as `name` on the generator-step axis, to every logger, at the next logging
        step (every trainer.log_every_n_steps G steps); read there only, so reporting on every step
        costs no host sync. From a callback: `pl_module.report(...)` in on_train_batch_end."""
        self._reported[name] = value.detach() if torch.is_tensor(value) else value

    def pending(self, name: str) -> Tensor | float | None:
        """What was reported as `name` since the last logging step (None if nothing): what this step logs."""
        return self._reported.get(name)

    def watch_scores(self, real_scores: Tensor, fake_scores: Tensor) -> None:
        """D's scores on this critic step's real and fake images: logged as D(x) and D(G(z))
        (probabilities or raw scores, as the loss group says), summed into the epoch's divergence
        estimate and watched for NaN."""
        self._scores = (real_scores.detach(), fake_scores.detach())

    @property
    def last_scores(self) -> tuple[Tensor, Tensor] | None:
        """D's scores on the latest critic step's real and fake images (detached), as `watch_scores` got them."""
        return self._scores

    def at_logging_step(self) -> bool:
        """In on_train_batch_end: this batch ended with a G step whose scalars are logged now."""
        return (self.critic_steps % self.hparams.n_critic == 0
                and self.generator_steps % self._log_every_n_generator_steps == 0)

    # ---- the loop ------------------------------------------------------------------------

    def training_step(self, batch: Tensor | tuple[Tensor, Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        # Conditional: each fake is drawn for its real partner's label, so D sees the data's
        # class frequencies on both sides and a penalty's real-fake pairs share their label.
        real, labels = batch if self.conditional else (batch, None)
        real = real.to(self.dtype)  # the nets' own dtype under trainer.precision=bf16-true or 64-true (else a no-op)
        if self.schedule is not None:
            self._follow_schedule()

        with self.toggled_optimizer(opt_d):
            loss_d = self.critic_step(real, labels)
            opt_d.zero_grad(set_to_none=True)
            self._backward(loss_d)
            if self.watch_gradient_norms and self._logs_next_generator_step(critic_step_before=True):
                self.report("health/grad_norm_d", self._gradient_norm(self.discriminator))
            self._step(opt_d)
        self.after_critic_step()
        self.critic_steps += 1
        if self.critic_steps % self.hparams.n_critic:
            return

        with self.toggled_optimizer(opt_g):
            loss_g = self.generator_step(real, labels)
            opt_g.zero_grad(set_to_none=True)
            self._backward(loss_g)
            if self.watch_gradient_norms and self._logs_next_generator_step():
                self.report("health/grad_norm_g", self._gradient_norm(self.generator))
            self._step(opt_g)
        self.generator_steps += 1
        if self.ema is not None:
            self.ema.update(self.generator, self.generator_steps, images=real.shape[0] * self.trainer.world_size)
        self._after_generator_step(loss_d.detach(), loss_g.detach())

    def _logs_next_generator_step(self, critic_step_before: bool = False) -> bool:
        """Whether the coming G step is a logging step (and, with `critic_step_before`, whether this
        critic step is the last one before it)."""
        if critic_step_before and (self.critic_steps + 1) % self.hparams.n_critic:
            return False
        return (self.generator_steps + 1) % self._log_every_n_generator_steps == 0

    def _gradient_norm(self, net: torch.nn.Module) -> Tensor:
        """The norm of all of `net`'s gradients (unscaled under 16-mixed), on the device."""
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        if not grads:
            return torch.zeros((), device=self.device)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
        scaler = self.grad_scaler
        return norm if scaler is None else norm / scaler.get_scale()

    def _backward(self, loss: Tensor) -> None:
        if self._direct_steps:
            loss.backward()
        else:
            self.manual_backward(loss)

    def _step(self, optimizer) -> None:
        if self._direct_steps:
            direct_steps.optimizer_step(optimizer)
        else:
            optimizer.step()

    def _after_generator_step(self, loss_d: Tensor, loss_g: Tensor) -> None:
        """The divergence watch and estimate, and this step's scalars reported (all tensor work, no host sync)."""
        if self._scores is None:  # a critic_step of a variant's own that watches no scores: the losses only
            unwatched = torch.zeros((), device=loss_d.device)
            self.divergence_watch.observe(self.generator_steps, unwatched, unwatched, loss_d, loss_g)
        else:
            real_scores, fake_scores = self._scores
            self.divergence_watch.observe(self.generator_steps, real_scores, fake_scores, loss_d, loss_g)
            # The critic's divergence estimate is averaged over the epoch: summed here, logged at its end.
            n = real_scores.shape[0]
            divergence = self.objective.loss.divergence(real_scores, fake_scores, loss_d) * n
            self._divergence_sum = divergence if self._divergence_sum is None else self._divergence_sum + divergence
            self._divergence_images += n
        if self.generator_steps % self._log_every_n_generator_steps == 0:
            self.report("train/loss_d", loss_d)
            self.report("train/loss_g", loss_g)
            if self._scores is not None:
                monitor = self.objective.loss.monitor(*self._scores, loss_d)
                for name, value in monitor.items():
                    if name != "divergence":
                        self.report(f"train/{name}", value)
            for name, value in self._scheduled.items():
                self.report(f"schedule/{name}", value)
            for steered in self.objective.adaptive:  # augment/p, apa/p
                self.report(f"{steered.key.split('.')[-1]}/p", steered.p)

    def _write_reported(self) -> None:
        """Every value reported since the last logging step, to the loggers at this G step (its one host sync)."""
        if self._reported:
            write_now(self.trainer, {name: float(value) for name, value in self._reported.items()},
                      self.generator_steps, epoch=self.trainer.current_epoch)
            self._reported = {}

    def epoch_divergence(self) -> Tensor | None:
        """The critic's divergence estimate averaged over this epoch's G steps so far (None before
        the first), on this rank: train/divergence, and hp_metric when metrics are off."""
        return None if self._divergence_sum is None else self._divergence_sum / self._divergence_images

    def _follow_schedule(self) -> None:
        """This step's scheduled values (schedule.py), set where they act; the length is fixed at the first step."""
        if self._schedule_steps is None:
            self._schedule_steps = schedules.length(self.schedule, self.trainer, self.hparams.n_critic)
        if not self._schedule_said and self.global_rank == 0:
            log.info("Schedule: %s.", self.schedule.describe(self._schedule_steps))
        self._schedule_said = True
        self._scheduled = self.schedule.values(self.generator_steps, self._schedule_steps, self._schedule_starts)
        schedules.apply(self._scheduled, self.optimizers(), self.augment, self.ema)

    # ---- Lightning's hooks around the loop -----------------------------------------------

    def configure_optimizers(self):
        return self._optimizer(self.generator), self._optimizer(self.discriminator)

    def _optimizer(self, net: torch.nn.Module) -> torch.optim.Optimizer:
        hp = self.hparams
        if hp.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=hp.lr)
        return adam(net.parameters(), lr=hp.lr, betas=(hp.beta1, hp.beta2))

    def on_fit_start(self) -> None:
        self._compile_nets()
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
        # Lightning's backward and optimizer-step wrappers, unless they would only call hooks nobody defines
        self._direct_steps = direct_steps.direct_steps_allowed(self.trainer, self)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # The divergence watch is read where Lightning reads the logged values anyway (the
        # logging interval) and at each epoch's end, before its grids, metrics and checkpoint.
        at_log_step = self.at_logging_step()
        if at_log_step or self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self.raise_if_diverged()
        if at_log_step:  # after the callbacks' on_train_batch_end: what they reported goes too
            self._write_reported()

    def on_train_epoch_end(self) -> None:
        divergence = self.epoch_divergence()
        if divergence is not None:  # averaged over DDP ranks
            self.log("train/divergence", divergence, sync_dist=True)
        self._divergence_sum, self._divergence_images = None, 0
        self.log("step", float(self.generator_steps), sync_dist=True)  # x-axis of the epoch-level scalars

    def raise_if_diverged(self) -> None:
        """A Diverged error naming the step and the value when a loss or D's scores went NaN or
        infinite (the checkpoint callback asks before every save)."""
        self.divergence_watch.raise_if_diverged()

    @property
    def grad_scaler(self):
        """The fp16 AMP GradScaler under precision=16-mixed, else None: a penalty that
        differentiates by hand needs it (Lightning scales only the losses it backpropagates)."""
        trainer = self._trainer
        return getattr(trainer.precision_plugin, "scaler", None) if trainer is not None else None

    # ---- noise, labels and sampling ------------------------------------------------------

    def noise(self, n: int) -> Tensor:
        return torch.randn(n, self.hparams.latent_dim, device=self.device)

    @property
    def conditional(self) -> bool:
        return self.hparams.get("num_classes") is not None

    def class_labels(self, n: int, labels: Tensor | int | None = None) -> Tensor | None:
        """`n` class indices for G (`labels` checked; random classes when None), None unconditional."""
        return class_labels(n, self.hparams.get("num_classes"), self.device, labels)

    def _generator_inputs(self, n: int) -> tuple[Tensor, Tensor | None]:
        return self.noise(n), self.class_labels(n)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return with_labels(self._compiled.get("generator", self.generator), z, labels)

    def use_channels_last(self) -> None:
        """channels_last=true: the nets' 4-D weights (convolutions) in NHWC memory order, which oneDNN
        (CPU) and cuDNN (GPU) convolve faster; the values, and the checkpoints' keys, are unchanged."""
        for net in (self.generator, self.discriminator, self.generator_ema):
            if net is not None:
                net.to(memory_format=torch.channels_last)

    def compile_when_fitting(self, mode: str | None = None) -> None:
        """compile=true: torch.compile G's and D's forward as fitting starts, on the run's device."""
        self._compile_mode = mode or "default"

    def _compile_nets(self) -> None:
        if getattr(self, "_compile_mode", None) and not self._compiled:
            self._compiled = compile_nets({"generator": self.generator, "discriminator": self.discriminator,
                                           "features": self.discriminator.features},
                                          self._compile_mode, self.device.type)

    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The EMA generator when model.ema_decay is on, else G itself."""
        return self.generator if self.ema is None else self.ema.module

    def refresh_ema_statistics(self) -> None:
        """Re-estimate the EMA generator's BatchNorm statistics now (done by itself when read)."""
        if self.ema is not None:
            self.ema.refresh_statistics()

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
        if self.ema is not None:
            self.ema.refresh_if_stale()
        generator = self.sampling_generator
        was_training = generator.training
        generator.eval()
        try:
            return with_labels(generator, noise.to(self.device, self.dtype), labels)
        finally:
            generator.train(was_training)

    # ---- what checkpoints carry ------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # What a resume checks before loading weights: the variant (optimizer states differ
        # between variants) and the data the nets were sized for.
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        checkpoint.setdefault("gan_lightning", {}).update(format=CHECKPOINT_FORMAT, variant=type(self).__name__,
                                                          data=getattr(datamodule, "name", None))

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        refuse_other_format(checkpoint, "the checkpoint")

    def get_extra_state(self) -> dict:
        # The counters travel in the state dict: checkpoints, load_from_checkpoint and
        # ddp_spawn's hand-back of rank 0's weights to the launching process all keep them.
        state = {"critic_steps": self.critic_steps, "generator_steps": self.generator_steps}
        if self._schedule_steps is not None:  # a schedule's length, fixed when it started
            state["schedule_steps"] = self._schedule_steps
        return state

    def set_extra_state(self, state: dict) -> None:
        self.critic_steps = int(state["critic_steps"])
        self.generator_steps = int(state["generator_steps"])
        self._schedule_steps = state.get("schedule_steps")  # absent until a schedule starts
