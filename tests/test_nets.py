import math
import re
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn

from conftest import (
    CIFAR10_CLASSES,
    RandomImages,
    assert_same_training_state,
    fit,
    read_scalars,
    run_cli,
    write_cifar10,
)
from gan_lightning import nets
from gan_lightning.errors import ConfigError
from gan_lightning.models import GAN, RpGAN
from gan_lightning.nets import ConditionalGenerator, build_nets, net_names
from gan_lightning.nets.conditional import with_labels
from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_layout


def _layers(net, kind):
    return [m for m in net.modules() if isinstance(m, kind)]


def test_dcgan_at_64x64_rgb_is_the_tutorial_architecture():
    g, d = DCGANGenerator(100, (3, 64, 64), 64), DCGANDiscriminator((3, 64, 64), 64)
    g_convs = [(m.in_channels, m.out_channels) for m in _layers(g, nn.ConvTranspose2d)]
    d_convs = [(m.in_channels, m.out_channels) for m in _layers(d, nn.Conv2d)]
    assert g_convs == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert d_convs == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    # The PyTorch DCGAN tutorial's parameter counts for ngf = ndf = 64, nz = 100, nc = 3.
    assert sum(p.numel() for p in g.parameters()) == 3_576_704
    assert sum(p.numel() for p in d.parameters()) == 2_765_568


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64), (3, 32, 32), (1, 16, 16), (3, 48, 48)])
def test_dcgan_nets_size_themselves_from_the_image(shape):
    g, d = DCGANGenerator(16, shape, 8), DCGANDiscriminator(shape, 8)
    images = g(torch.randn(3, 16))
    assert images.shape == (3, *shape)
    assert images.min() >= -1 and images.max() <= 1
    assert d(images).shape == (3,)


@pytest.mark.parametrize("size", [30, 27, 36, 4])
def test_an_image_size_the_dcgan_nets_cannot_make_is_refused_clearly(size):
    with pytest.raises(ConfigError, match=rf"cannot make {size}x{size} images.*data.image_size.*model=gan \(its MLP nets take any size\)"):
        dcgan_layout((3, size, size))


def test_dcgan_init_is_normal_0_002():
    g = DCGANGenerator(100, (3, 64, 64), 64)
    weights = torch.cat([m.weight.flatten() for m in _layers(g, nn.ConvTranspose2d)])
    assert abs(weights.mean().item()) < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)


def test_mlp_nets_shapes_and_raw_scores():
    g, d = build_nets({"name": "mlp", "g_hidden": [32, 64], "d_hidden": [16]}, (1, 28, 28), 10)
    images = g(torch.randn(5, 10))
    assert images.shape == (5, 1, 28, 28)
    assert d(images).shape == (5,)
    assert not _layers(d, nn.Sigmoid) and not _layers(g, nn.Sigmoid)


def test_critic_norm_choices():
    _, d_batch = build_nets({"name": "dcgan"}, (1, 28, 28), 8, critic_norm="batch")
    _, d_layer = build_nets({"name": "dcgan"}, (1, 28, 28), 8, critic_norm="layer")
    assert _layers(d_batch, nn.BatchNorm2d)
    assert not _layers(d_layer, nn.BatchNorm2d) and _layers(d_layer, nn.GroupNorm)


def test_bad_net_configs_are_named():
    with pytest.raises(ConfigError, match="Unknown net 'resnett': use one of net=dcgan, net=mlp, net=r3gan, net=resnet"):
        build_nets({"name": "resnett"}, (1, 28, 28), 8)
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['g_featurez'\] for net=dcgan"):
        build_nets({"name": "dcgan", "g_featurez": 3}, (1, 28, 28), 8)


# ---- the contract every net meets, and every net with every objective -----------------------

# One tiny configuration per net, at an image size it makes: a new conf/net/<name>.yaml needs one here.
TINY = {
    "mlp": ({"name": "mlp", "g_hidden": [16], "d_hidden": [16]}, (1, 28, 28)),
    "dcgan": ({"name": "dcgan", "g_features": 4, "d_features": 4}, (1, 28, 28)),
    "resnet": ({"name": "resnet", "g_features": 8, "d_features": 8, "d_norm": "none"}, (1, 32, 32)),
    "r3gan": ({"name": "r3gan", "g_features": 8, "d_features": 8, "blocks": 1, "expansion": 2, "cardinality": 4,
               "embedding": 4, "d_norm": "none"}, (1, 16, 16)),
}
NO_SPECTRAL_NORM = {"r3gan"}  # its fix-up init starts convs at zero: refused in one sentence (below)
LOSSES = ["bce", "wasserstein", "hinge", "least_squares", "relativistic"]
REGS = [None, {"gp": {"gamma": 10.0}}, {"r1": {"gamma": 1.0}}, {"r2": {"gamma": 1.0}}, {"clip": {"value": 0.01}}]


def test_every_net_has_a_tiny_case_and_every_conv_net_takes_the_base_widths():
    assert set(TINY) == set(net_names())
    for name in net_names():
        keys = yaml.safe_load((files("gan_lightning.conf") / "net" / f"{name}.yaml").read_text())
        assert keys["name"] == name and keys["spectral_norm"] is False
        if name != "mlp":
            assert {"g_features", "d_features"} <= set(keys), name


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("classes", [None, 3])
def test_every_net_meets_the_contract(name, classes):
    net, shape = TINY[name]
    g, d = build_nets(net, shape, 8, num_classes=classes)
    labels = None if classes is None else torch.tensor([0, 1, 2, 1])
    images = with_labels(g.eval(), torch.randn(4, 8), labels)  # samples are drawn in eval mode
    assert images.shape == (4, *shape) and images.min() >= -1 and images.max() <= 1
    g.train()
    scores = with_labels(d, images, labels)
    assert scores.shape == (4,)
    body = d if classes is None else d.net
    assert body.features(images).flatten(1).shape == (4, body.feature_dim)
    assert isinstance(body.head, (nn.Linear, nn.Conv2d))
    scores.sum().backward()  # D's gradient reaches G through the images
    assert all(p.grad is not None for p in g.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reg", range(len(REGS)))
def test_every_net_trains_with_every_loss_and_penalty(name, loss, reg):
    # conditional and spectral norm take turns, so each net meets all four pairs across the losses
    case = LOSSES.index(loss) + reg
    conditional, spectral = bool(case % 2), bool(case // 2 % 2) and name not in NO_SPECTRAL_NORM
    net, shape = TINY[name]
    model = GAN(image_shape=shape, net={**net, "spectral_norm": spectral}, latent_dim=8, loss=loss, reg=REGS[reg],
                num_classes=3 if conditional else None, class_names=["a", "b", "c"] if conditional else None)
    data = RandomImages(n=32, shape=shape, classes=3 if conditional else None)
    if conditional:
        data.use_labels()
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("generator.", "discriminator."))}
    fit(model, batches=2, datamodule=data)
    assert model.generator_steps == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
    after = model.state_dict()
    for side in ("generator.", "discriminator."):
        assert any(not torch.equal(v, after[k]) for k, v in before.items() if k.startswith(side)), side


def test_spectral_norm_on_r3gan_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match="net=r3gan cannot take net.spectral_norm=true: its blocks' last convs start "
                                          "at zero .* R3GAN uses none"):
        build_nets({**TINY["r3gan"][0], "spectral_norm": True}, TINY["r3gan"][1], 8)


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_every_net_trains_in_mixed_precision_with_r1_and_r2(name, precision):
    from lightning.pytorch.plugins import MixedPrecision

    net, shape = TINY[name]
    model = RpGAN(image_shape=shape, net=net, latent_dim=8)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if precision == "16-mixed" else None
    trainer = fit(model, batches=3, plugins=[MixedPrecision(precision, "cpu", scaler=scaler)],
                  datamodule=RandomImages(n=32, shape=shape), log_every_n_steps=1)
    assert all(torch.isfinite(trainer.callback_metrics[f"train/{name}"]) for name in ("r1", "r2"))
    assert any(not torch.equal(before[k], v) for k, v in model.generator.state_dict().items())


# ---- net=resnet --------------------------------------------------------------------------------

def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet_at_cifar10_size_matches_the_published_sngan_parameter_counts():
    net = yaml.safe_load((files("gan_lightning.conf") / "net" / "resnet.yaml").read_text())
    g, d = build_nets(net, (3, 32, 32), 128)  # SNGAN's z is 128-d
    # SNGAN on CIFAR-10 in the StudioGAN and Mimicry logs: about 4.3M (G) and 1.06M (D)
    assert _parameters(g) == pytest.approx(4.3e6, rel=0.05) and _parameters(d) == pytest.approx(1.06e6, rel=0.05)
    assert [(c.in_channels, c.out_channels) for c in _layers(d, nn.Conv2d)][:3] == [(3, 128), (128, 128), (3, 128)]
    assert not _layers(d, nn.BatchNorm2d) and not _layers(d, nn.GroupNorm)  # SNGAN's D has no normalisation
    assert len(_layers(g, nn.BatchNorm2d)) == 7  # two per up-block, one before the last conv


@pytest.mark.parametrize("side, blocks", [(32, 3), (48, 3), (64, 4), (128, 5)])
def test_resnet_sizes_itself_from_the_image(side, blocks):
    g, d = build_nets({**TINY["resnet"][0], "g_features": 4, "d_features": 4}, (3, side, side), 8)
    assert len(g.blocks) == blocks
    images = g(torch.randn(2, 8))
    assert images.shape == (2, 3, side, side) and d(images).shape == (2,)


@pytest.mark.parametrize("size", [28, 30, 16, 512])
def test_a_size_the_resnet_cannot_make_says_which_it_can(size):
    with pytest.raises(ConfigError, match=rf"cannot make {size}x{size} images: .*32, 48, 64, 96, 128, 192 or 256") as err:
        build_nets({"name": "resnet"}, (1, size, size), 8)
    assert ("data.image_size=32, which pads digits" in str(err.value)) == (size == 28)


def test_conditional_resnet_conditions_its_batchnorm_on_the_class():
    g, _ = build_nets(TINY["resnet"][0], (1, 32, 32), 8, num_classes=3)
    assert not isinstance(g, ConditionalGenerator) and g.blocks[0].norm1.embed.num_embeddings == 3
    with torch.no_grad():
        g.blocks[0].norm1.embed.weight[1] += 0.5  # class 1's gains and biases differ from class 0's
    z = torch.randn(2, 8)
    assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1])))


def test_the_variant_chooses_the_critic_norm_unless_the_net_config_does():
    net = {**TINY["resnet"][0], "d_norm": None}
    assert _layers(build_nets(net, (1, 32, 32), 8, critic_norm="batch")[1], nn.BatchNorm2d)
    assert _layers(build_nets(net, (1, 32, 32), 8, critic_norm="layer")[1], nn.GroupNorm)
    assert not _layers(build_nets(TINY["resnet"][0], (1, 32, 32), 8, critic_norm="batch")[1], nn.BatchNorm2d)
    with pytest.raises(ConfigError, match="Unknown critic normalisation 'group': use one of net.d_norm=batch"):
        build_nets({**net, "d_norm": "group"}, (1, 32, 32), 8)


def test_unknown_resnet_options_name_the_ones_it_takes():
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['g_hidden'\] for net=resnet: it takes "
                                          r"\['d_features', 'd_norm', 'features', 'g_features'\]"):
        build_nets({**TINY["resnet"][0], "g_hidden": [3]}, (1, 32, 32), 8)


# ---- from the command line -------------------------------------------------------------------

RESNET_CLI = ("net=resnet", "data.image_size=32", "net.g_features=8", "net.d_features=8", "trainer.max_epochs=1",
              "trainer.limit_train_batches=4")


def test_sngan_on_32_pixel_digits_from_the_cli_with_metrics_and_sampling(tmp_path):
    run = tmp_path / "run"
    run_cli(*RESNET_CLI, "loss=hinge", "net.spectral_norm=true", "conditional=true", "model.ema_decay=0.9",
            "callbacks.metrics.num_samples=100", f"hydra.run.dir={run}", cwd=tmp_path)
    hparams = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert hparams["net"] == {"name": "resnet", "g_features": 8, "d_features": 8, "d_norm": "none",
                              "spectral_norm": True}
    assert list(hparams["image_shape"]) == [1, 32, 32] and hparams["loss"] == "hinge"
    scalars = read_scalars(run / "tensorboard")
    assert scalars["val/fid"] and 0 <= scalars["val/class_accuracy"][-1][1] <= 1  # the digit classifier reads them
    assert Image.open(run / "samples" / "final.png").size == (8 * 34 + 2, 10 * 34 + 2)  # a row per digit
    run_cli(f"ckpt={run / 'checkpoints' / 'last.ckpt'}", "n=6", "label=3", "out=threes.npz", cwd=tmp_path,
            module="gan_lightning.sample")
    with np.load(tmp_path / "threes.npz") as saved:
        assert saved["arr_0"].shape == (6, 32, 32, 1) and set(saved["labels"]) == {3}


def test_cifar10_conditional_resnet_from_the_cli(tmp_path):
    write_cifar10(tmp_path / "data", per_batch=8)
    common = ("data=cifar10", "net=resnet", "net.g_features=8", "net.d_features=8", "data.batch_size=8",
              "trainer.max_epochs=1")
    run = tmp_path / "run"
    run_cli(*common, "conditional=true", "callbacks.metrics.feature=null", f"hydra.run.dir={run}", cwd=tmp_path)
    names = ", ".join(f"{k}: {name}" for k, name in enumerate(CIFAR10_CLASSES))
    assert f"Conditional on 10 classes (label: name): {names}" in (run / "train.log").read_text()
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["state_dict"]["_extra_state"]["generator_steps"] == 5  # 40 images, batch 8
    # Its metric is Inception FID, whose weights cannot be downloaded here: a warning, and it trains without
    proc = run_cli(*common, f"hydra.run.dir={tmp_path / 'inception'}", cwd=tmp_path)
    assert "No FID/KID in this run: The Inception weights for FID/KID could not be loaded" in proc.stdout + proc.stderr


@pytest.mark.slow  # three training runs: the slow tier holds the bit-exact resume runs
def test_a_resnet_run_stopped_and_resumed_is_the_run_that_never_stopped(tmp_path):
    run = ("model=rpgan", *RESNET_CLI, "trainer.max_epochs=3", "conditional=true", "net.spectral_norm=true",
           "data.batch_size=8", "callbacks.metrics.feature=null", "model.ema_decay=0.9")
    run_cli(*run, "max_generator_steps=6", f"hydra.run.dir={tmp_path / 'whole'}", cwd=tmp_path)
    run_cli(*run, "max_generator_steps=3", f"hydra.run.dir={tmp_path / 'parts'}", cwd=tmp_path)  # mid-epoch
    run_cli(f"resume={tmp_path / 'parts'}", "max_generator_steps=6", cwd=tmp_path)
    whole, parts = (torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)
                    for name in ("whole", "parts"))
    assert whole["state_dict"]["_extra_state"]["generator_steps"] == 6
    assert_same_training_state(whole, parts)
    # a resume that would change the net names the key and both values
    proc = run_cli(f"resume={tmp_path / 'parts'}", "max_generator_steps=9", "net.g_features=16", cwd=tmp_path,
                   check=False)
    assert proc.returncode == 2 and "would not continue the same run: net.g_features: 8 -> 16" in proc.stderr


def test_the_sngan_experiment_keeps_its_budget_and_objective(tmp_path):
    proc = run_cli("experiment=sngan_cifar10", "--cfg", "job", cwd=tmp_path)
    config = yaml.safe_load(proc.stdout)
    assert config["max_generator_steps"] == 50000 and config["loss"]["name"] == "hinge"
    assert config["net"] == {"name": "resnet", "g_features": 256, "d_features": 128, "d_norm": "none",
                             "spectral_norm": True}
    assert (config["model"]["n_critic"], config["model"]["latent_dim"], config["data"]["batch_size"]) == (5, 128, 64)


@pytest.mark.parametrize("override, message", [
    (("model=dcgan", "net=resnet"), "The ResNet nets cannot make 28x28 images: .* set data.image_size=32, which pads digits"),
    (("net=resnet", "data.image_size=32", "net.cardinality=4"), r"net=resnet has no key 'cardinality' \(its keys: d_features, d_norm, g_features, name, spectral_norm\)"),
    (("net=resnet", "data.image_size=32", "+net.cardinality=4"), r"Unknown option\(s\) \['cardinality'\] for net=resnet"),
    (("data.image_size=30",), "data.image_size=30: MNIST digits are 28 pixels, or 32"),
])
def test_bad_architecture_input_is_one_sentence_and_writes_nothing(tmp_path, override, message):
    proc = run_cli(*override, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert not (tmp_path / "outputs").exists()


def test_the_readme_toy_net_is_one_file_and_one_yaml(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    package = Path(nets.__file__).parents[1]
    written = []
    try:
        for first_line in ("# gan_lightning/nets/toy.py", "# gan_lightning/conf/net/toy.yaml"):
            block = re.search(r"```(?:python|yaml)\n(" + re.escape(first_line) + r"\n.*?)```", readme, re.S).group(1)
            path = package.parent / first_line[2:]
            assert not path.exists()
            path.write_text(block)
            written.append(path)
        net_names.cache_clear()
        run = tmp_path / "run"
        run_cli("net=toy", "model=gan", "conditional=true", "loss=hinge", "reg=r1", "net.spectral_norm=true",
                "net.g_features=16", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
                "callbacks.metrics.feature=null", f"hydra.run.dir={run}", cwd=tmp_path)
        hparams = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
        assert hparams["net"] == {"name": "toy", "g_features": 16, "d_features": 64, "spectral_norm": True}
        assert Image.open(run / "samples" / "final.png").size == (8 * 30 + 2, 10 * 30 + 2)
    finally:
        for path in written:
            path.unlink()
        sys.modules.pop("gan_lightning.nets.toy", None)
        net_names.cache_clear()


# ---- net=r3gan ---------------------------------------------------------------------------------

def test_r3gan_blocks_start_as_the_identity_and_are_grouped_as_asked():
    from gan_lightning.nets.r3gan import ResidualBlock

    block = ResidualBlock(channels=16, expansion=2, cardinality=8, total_blocks=4)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(x), x)  # fix-up: the last conv starts at zero
    assert block.grouped.groups == 8 and block.grouped.weight.shape == (32, 4, 3, 3)
    # the others: He's init scaled by L^-1/4 (L = 4 blocks in the net)
    expected = math.sqrt(2 / 1.04) * 4 ** -0.25 / math.sqrt(16)
    assert block.expand.weight.std().item() == pytest.approx(expected, rel=0.15)


def test_r3gan_resamples_through_the_binomial_filter():
    from gan_lightning.nets.r3gan import Resample

    flat = torch.ones(1, 3, 8, 8)
    up, down = Resample(up=True)(flat), Resample(up=False)(flat)
    assert up.shape == (1, 3, 16, 16) and down.shape == (1, 3, 4, 4)
    assert torch.allclose(up[..., 1:-1, 1:-1], torch.ones(1, 3, 14, 14))  # a constant stays constant inside
    assert torch.allclose(down[..., 1:-1, 1:-1], torch.ones(1, 3, 2, 2))
    impulse = torch.zeros(1, 1, 8, 8)
    impulse[..., 4, 4] = 1
    row = Resample(up=False)(impulse)[0, 0, 2]  # output j reads inputs 2j-1..2j+2 with weights [1, 3, 3, 1] / 8
    assert torch.allclose(row, torch.tensor([0.0, 1.0, 3.0, 0.0]) / 8 * 3 / 8)  # (3/8: the same along the rows)


def test_r3gan_g_starts_from_a_learned_constant_and_d_ends_in_a_depthwise_4x4_conv():
    g, d = build_nets(TINY["r3gan"][0], (1, 32, 32), 8, num_classes=3)
    assert g.basis.shape == (8, 4, 4) and g.embed.num_embeddings == 3 and len(g.stages) == 4
    body = d.net
    assert body.basis.kernel_size == (4, 4) and body.basis.groups == body.basis.in_channels == 8
    assert not _layers(d, (nn.BatchNorm2d, nn.GroupNorm)) and not _layers(g, (nn.BatchNorm2d, nn.GroupNorm))


@pytest.mark.parametrize("options, message", [
    ({"cardinality": 3}, "net.cardinality=3 does not divide generator's expanded width 16"),
    ({"blocks": [1, 2]}, r"net.blocks=\[1, 2\] has 2 entries for 3 stages \(sizes 4 to 16\)"),
    ({"d_norm": "batch"}, "net=r3gan has no normalisation layers .* set net.d_norm=none"),
])
def test_bad_r3gan_options_are_one_sentence(options, message):
    with pytest.raises(ConfigError, match=message):
        build_nets({**TINY["r3gan"][0], **options}, (1, 16, 16), 8)
