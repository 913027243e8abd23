import pytest
import torch
from torch import nn

from gan_lightning.nets import build_nets
from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_layout
from gan_lightning.run.errors import ConfigError


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
    with pytest.raises(ConfigError, match=rf"cannot make {size}x{size} images.*data.image_size.*net=mlp"):
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
    with pytest.raises(ConfigError, match="Unknown net 'resnet'"):
        build_nets({"name": "resnet"}, (1, 28, 28), 8)
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['g_featurez'\] for net=dcgan"):
        build_nets({"name": "dcgan", "g_featurez": 3}, (1, 28, 28), 8)
