"""Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et
al. 2020): k-nearest-neighbour manifolds of real and generated features.

Each feature vector owns a ball reaching its k-th nearest neighbour in its own set. Precision
is the share of generated samples inside some real ball (fidelity), recall the share of real
samples inside some generated ball (diversity). Density counts how many real balls hold each
generated sample (divided by k: about 1 for samples distributed like the data, more when they
crowd where the data is dense); coverage is the share of real balls holding at least one
generated sample. The same formulas as the `prdc` package (a test holds them equal), computed
in float64 over blocks of rows, so 50,000 Inception features fit in memory.
"""

import torch
from torch import Tensor

BLOCK = 1024  # rows of the distance matrix held at once


def radii(features: Tensor, k: int) -> Tensor:
    """Each row's distance to its k-th nearest other row."""
    return torch.cat([torch.cdist(rows, features).kthvalue(k + 1, dim=1).values  # +1: itself, at 0
                      for rows in features.split(BLOCK)])


def precision_recall_density_coverage(real: Tensor, fake: Tensor, precision_recall_k: int = 3,
                                      density_coverage_k: int = 5) -> dict[str, float]:
    """The four numbers for features `real` (N, D) and `fake` (M, D); N and M above each k."""
    real, fake = real.double(), fake.double()
    real_pr, real_dc = radii(real, precision_recall_k), radii(real, density_coverage_k)
    fake_pr = radii(fake, precision_recall_k)
    precise = inside_count = 0
    nearest_fake = torch.full((real.shape[0],), torch.inf, dtype=torch.float64)
    recalled = torch.zeros(real.shape[0], dtype=torch.bool)
    for start in range(0, fake.shape[0], BLOCK):
        block = fake[start:start + BLOCK]
        distances = torch.cdist(real, block)  # (N, block)
        precise += int((distances < real_pr[:, None]).any(0).sum())
        inside_count += int((distances < real_dc[:, None]).sum())
        nearest_fake = torch.minimum(nearest_fake, distances.min(1).values)
        recalled |= (distances < fake_pr[start:start + BLOCK][None, :]).any(1)
    return {"precision": precise / fake.shape[0], "recall": float(recalled.double().mean()),
            "density": inside_count / (density_coverage_k * fake.shape[0]),
            "coverage": float((nearest_fake < real_dc).double().mean())}
