"""Every hook docs/extending.md documents, overridden exactly as documented, trains with every
loss, penalty, augmentation, conditional=true and compile=true; the documented feature-matching
file is the shipped one and trains the same from outside the package; report() reaches the loggers
on the generator-step axis."""

import re
import sys
import types
from pathlib import Path

import pytest
import torch

import gan_lightning.models.base as models_base
from conftest import DCGAN_SMALL, MLP, RandomImages, fit, read_scalars, run_cli
from gan_lightning.models.base import GANModule

ROOT = Path(__file__).resolve().parents[1]
EXTENDING = (ROOT / "docs" / "extending.md").read_text()


def _block(first_line: str) -> str:
    match = re.search(r"```(?:python|yaml)\n(" + re.escape(first_line) + r"\n.*?)```", EXTENDING, re.S)
    assert match, f"docs/extending.md has no block starting with {first_line!r}"
    return match.group(1)


def _module_from_docs(name: str, first_line: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(_block(first_line), f"docs/extending.md:{name}", "exec"), module.__dict__)
    sys.modules[name] = module
    return module


InstanceNoiseGAN = _module_from_docs("instance_noise", "# gan_lightning/models/instance_noise.py").InstanceNoiseGAN
FeatureMatchingGAN = _module_from_docs("fm_from_docs", "# gan_lightning/models/feature_matching.py").FeatureMatchingGAN


# The other hooks, each overridden with the signature the docs give, calling the base where it composes.
class DriftPenalty(GANModule):  # penalty(real, fake, labels=None): ProGAN's drift term beside the reg group's
    def penalty(self, real, fake, labels=None):
        base = super().penalty(real, fake, labels)
        drift = 1e-3 * self.critic(real, labels).pow(2).mean()
        return drift if base is None else base + drift


class CountedClip(GANModule):  # after_critic_step(): the base's clipping, then one of its own
    def after_critic_step(self):
        super().after_critic_step()
        self.report("train/critic_steps_seen", float(self.critic_steps + 1))


class OwnLoss(GANModule):  # discriminator_loss / generator_loss with own_loss
    own_loss = "least_squares"

    def discriminator_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean())

    def generator_loss(self, fake_scores, real_scores=None):
        return 0.5 * (fake_scores - 1).pow(2).mean()


class OwnCriticStep(GANModule):  # critic_step(real, labels=None): a consistency term on two augmentations
    def critic_step(self, real, labels=None):
        fake = self(self.noise(real.shape[0]), labels).detach()
        real_scores, fake_scores = self.critic(real, labels), self.critic(fake, labels)
        self.watch_scores(real_scores, fake_scores)
        loss = self.discriminator_loss(real_scores, fake_scores)
        consistency = (self.critic(real, labels) - real_scores).pow(2).mean()
        self.report("train/consistency", consistency)
        penalty = self.penalty(real, fake, labels)
        return loss + consistency if penalty is None else loss + consistency + penalty


LOSSES = ["bce", "wasserstein", "hinge", "least_squares", "relativistic"]
REGS = [{}, {"gp": {}}, {"r1": {}}, {"r2": {"every": 2}}, {"clip": {"value": 0.05}}]
AUGMENT = {"name": "diffaugment", "policy": ["translation", "cutout"], "p": 1.0}
ADA = {"name": "ada", "policy": ["translation", "cutout"], "kimg": 0.1}
# Each variant with every loss (paired with every reg), then conditional with the little-data pieces
# (ADA, APA, LeCam, R1), then compiled.
COMBINATIONS = [dict(loss=loss, reg=reg) for loss, reg in zip(LOSSES, REGS)] + [
    dict(loss="hinge", reg={"r1": {}, "lecam": {}, "apa": {"kimg": 0.1}}, augment=ADA, num_classes=3),
    dict(loss="wasserstein", reg={"gp": {}}, num_classes=3, compile=True)]
VARIANTS = [InstanceNoiseGAN, FeatureMatchingGAN, DriftPenalty, CountedClip, OwnLoss, OwnCriticStep]


def _cases():
    for variant in VARIANTS:
        for options in COMBINATIONS:
            if variant is OwnLoss:  # least squares' scores have no centre for ADA's and APA's r_t: DiffAugment
                options = {**options, "loss": "least_squares"}
                if "augment" in options:
                    options.update(augment=AUGMENT, reg={"r1": {}, "lecam": {}})
            yield pytest.param(variant, options, id=f"{variant.__name__}-" + "-".join(
                str(value if not isinstance(value, dict) else ",".join(value) or "none")
                for key, value in options.items() if key != "augment"))


@pytest.fixture
def cheap_compile(monkeypatch):
    """compile=true through Dynamo and AOTAutograd without Inductor's C++ build (the slow tier and
    tests/test_compile.py compile with Inductor): what breaks a double backward breaks here too."""
    monkeypatch.setattr(models_base, "compile_nets",  # the name base.py calls
                        lambda nets, mode, device_type="cpu": {k: torch.compile(n, backend="aot_eager")
                                                               for k, n in nets.items()})


@pytest.mark.parametrize("variant, options", list(_cases()))
def test_each_documented_hook_trains_with_every_piece(variant, options, cheap_compile):
    options = dict(options)
    compile_on = options.pop("compile", False)
    classes = options.get("num_classes")
    model = variant(image_shape=(1, 16, 16), net=DCGAN_SMALL if compile_on or classes else MLP, latent_dim=8,
                    n_critic=2, num_samples=4, **options)
    if compile_on:
        model.compile_when_fitting()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    data = RandomImages(n=32, shape=(1, 16, 16), classes=classes)
    if classes:
        data.use_labels()
    trainer = fit(model, batches=4, datamodule=data, log_every_n_steps=1)
    assert (model.critic_steps, model.generator_steps) == (4, 2)
    for net in ("generator", "discriminator"):
        assert any(not torch.equal(p, before[name]) for name, p in model.named_parameters()
                   if name.startswith(net + ".")), f"{net} did not train"
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss_g"]) and torch.isfinite(metrics["train/loss_d"])
    for name in {FeatureMatchingGAN: ["train/feature_gap"], OwnCriticStep: ["train/consistency"],
                 CountedClip: ["train/critic_steps_seen"]}.get(variant, []):
        assert torch.isfinite(metrics[name]), name
    penalties = set(options["reg"]) - {"clip", "apa", "lecam"}
    assert {f"train/{name}" for name in penalties} <= set(metrics)
    if "lecam" in options["reg"] and variant is not OwnCriticStep:  # the base critic step adds LeCam's term
        assert torch.isfinite(metrics["train/lecam"])
    if options.get("augment", {}).get("name") == "ada":  # p on the G-step axis, whoever's critic step ran
        assert {"augment/p", "apa/p"} <= set(metrics)
    if compile_on:
        assert set(model._compiled) == {"generator", "discriminator", "features"}


def test_the_documented_feature_matching_file_is_the_shipped_one():
    shipped = (ROOT / "gan_lightning" / "models" / "feature_matching.py").read_text()
    assert _block("# gan_lightning/models/feature_matching.py").split("\n", 1)[1] == shipped
    yaml = (ROOT / "gan_lightning" / "conf" / "model" / "feature_matching.yaml").read_text()
    assert _block("# gan_lightning/conf/model/feature_matching.yaml").split("\n", 1)[1] == yaml


def test_the_documented_callback_reports_on_the_generator_step_axis_to_tensorboard_and_csv(tmp_path):
    (tmp_path / "grad_norm.py").write_text(_block("# grad_norm.py"))
    sys.path.insert(0, str(tmp_path))
    try:
        run_cli("model=feature_matching", "net.g_features=8", "net.d_features=8", "model.n_critic=2",
                "trainer.max_epochs=1", "trainer.limit_train_batches=12", "trainer.log_every_n_steps=2",
                "callbacks.metrics.feature=null", "logger=[tensorboard,csv]", "+callbacks.grad_norm._target_=grad_norm.GradNorm",
                "hydra.run.dir=run", cwd=tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("grad_norm", None)
    scalars = read_scalars(tmp_path / "run" / "tensorboard")
    # 12 batches, 2 critic steps per G step: G steps 2, 4, 6, the same steps as every other curve
    for name in ("train/grad_norm_d", "train/feature_gap"):
        assert [step for step, _ in scalars[name]] == [step for step, _ in scalars["train/loss_g"]] == [2, 4, 6]
    rows = (tmp_path / "run" / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    logged = [dict(zip(header, row.split(","))) for row in rows[1:]]
    steps = [int(row["step"]) for row in logged if row.get("train/grad_norm_d")]
    assert steps == [2, 4, 6] and all(float(row["train/grad_norm_d"]) > 0 for row in logged if row.get("train/grad_norm_d"))
