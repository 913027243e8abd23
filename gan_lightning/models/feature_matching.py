"""Feature matching (Salimans et al. 2016, "Improved Techniques for Training GANs", §3.1).

G stops chasing D's verdict and matches the statistics D has learned to look at instead: the
mean of D's last hidden features on a batch of fakes against their mean on the real batch,
||E f(x) - E f(G(z))||^2 (averaged over the features). D trains as usual, with the `loss`
group's loss and any penalty; `critic_features` applies the augmentation and compile=true as
every D call does. Conditional runs draw the fakes for the real images' labels.
"""

from torch import Tensor

from gan_lightning.models.base import GANModule


class FeatureMatchingGAN(GANModule):
    preset = "feature_matching"

    def generator_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        fake = self(self.noise(real.shape[0]), labels)
        real_mean = self.critic_features(real).mean(0).detach()  # a target: D is not trained here
        gap = (real_mean - self.critic_features(fake).mean(0)).pow(2).mean()
        self.report("train/feature_gap", gap)
        return gap
