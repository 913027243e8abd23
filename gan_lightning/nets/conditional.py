"""Class conditioning for any pair of nets: G reads the label beside z, D projects.

G: the one-hot label is concatenated with z (the conditional input of Mirza & Osindero 2014),
so the wrapped G is built for latent_dim + num_classes inputs and its first layer learns each
class's embedding (its weights on that class's input), on the scale of its weights on z (a
free unit-variance embedding beside z drowns z: each class collapses to one image).
D: a projection discriminator (Miyato & Koyama 2018),

    D(x, y) = head(phi(x)) + <embed(y), phi(x)>

with phi(x) D's last hidden features (flattened) and head its last, linear layer: the
unconditional score plus the inner product of the class embedding with the features.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ConditionalGenerator(nn.Module):
    def __init__(self, generator: nn.Module, num_classes: int):
        super().__init__()
        self.net = generator
        self.num_classes = num_classes

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.mixed(z, F.one_hot(labels, self.num_classes).to(z.dtype))

    def mixed(self, z: Tensor, class_weights: Tensor) -> Tensor:
        """G with (N, num_classes) weights in place of one-hot labels: a blend of the classes'
        embeddings (the walks between classes of the sampling CLI's view=interpolation)."""
        return self.net(torch.cat([z, class_weights.to(z.dtype)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """Wraps a D that has `features(x)`, `head` and `feature_dim` (the project's MLP and DCGAN critics)."""

    def __init__(self, discriminator: nn.Module, num_classes: int):
        super().__init__()
        self.net = discriminator
        self.embed = nn.Embedding(num_classes, discriminator.feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)  # as in Miyato's code (and never all zero: spectral norm divides)

    def features(self, x: Tensor) -> Tensor:
        """The wrapped D's features (the net contract's `features`; the label enters after them)."""
        return self.net.features(x)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        features = self.net.features(x)
        score = self.net.head(features).view(-1)
        return score + (self.embed(labels) * features.flatten(1)).sum(1)


def with_labels(net: nn.Module, inputs: Tensor, labels: Tensor | None) -> Tensor:
    """net(inputs), or net(inputs, labels) for a conditional net."""
    return net(inputs) if labels is None else net(inputs, labels)


def per_class(noise: Tensor, classes: int) -> tuple[Tensor, Tensor]:
    """(noise, labels) for a grid with one row per class, each row the same `noise` vectors."""
    labels = torch.arange(classes, device=noise.device).repeat_interleave(noise.shape[0])
    return noise.repeat(classes, 1), labels


def with_class_weights(generator: nn.Module, z: Tensor, class_weights: Tensor) -> Tensor:
    """A conditional G's images for a blend of classes, (N, num_classes) weights in place of labels
    (walks from one class to another). ConditionalGenerator blends the one-hot inputs; a G that
    conditions itself (the ResNet's conditional BatchNorm, R3GAN's embedding) gets each of its
    class embeddings, nn.Embedding layers, blended with the same weights."""
    if isinstance(generator, ConditionalGenerator):
        return generator.mixed(z, class_weights)
    classes = class_weights.shape[1]

    def blended(module: nn.Embedding, inputs, output: Tensor) -> Tensor:
        return (class_weights.to(module.weight.dtype) @ module.weight).to(output.dtype)

    hooks = [m.register_forward_hook(blended) for m in generator.modules()
             if isinstance(m, nn.Embedding) and m.num_embeddings == classes]
    try:
        return generator(z, class_weights.argmax(1))
    finally:
        for hook in hooks:
            hook.remove()
