"""Does a generator copy its training images? Two numbers, each with real images as the reference.

`copy_share`: the share of samples nearer to some training image than the training images are
to each other: below the 5th percentile of the training images' distances to their nearest
*other* training image. Real images the generator never saw land there about 5% of the time
(held-out images, when the run has them, are measured as the reference); a generator that
returns training images lands there every time.

`data_copying_ct`: the C_T statistic of Meehan, Chaudhuri and Dasgupta (AISTATS 2020, "A
non-parametric test to detect data-copying in generative models"). The training set T is cut
into cells (k-means); in each cell a Mann-Whitney U test asks whether samples lie nearer to T
than held-out real images do; C_T is the cells' Z-scores averaged with the held-out images'
weights. About 0 for samples distributed as the data, strongly negative (below -3) for
copying, positive for samples farther from T than real images (underfitting). It needs real
images the generator did not train on: a run with data.limit has them.

Distances are Euclidean, in the metric's feature space (the digit classifier's or Inception's).
"""

import math

import torch
from torch import Tensor

BLOCK = 1024               # rows of a distance matrix held at once
COPY_QUANTILE = 0.05       # "nearer than 95% of the training images are to their own nearest neighbour"
COPYING_SHARE = 2 * COPY_QUANTILE  # flagged at twice what real images give
COPYING_CT = -3.0          # Meehan et al.'s data-copying regime: C_T well below 0
MIN_PER_CELL = 20          # a cell enters C_T with at least this many samples and held-out images in it


def nearest_distances(queries: Tensor, reference: Tensor, skip_self: bool = False) -> Tensor:
    """Each query's distance to its nearest reference row (`skip_self`: queries are the first
    rows of `reference`, and each one's own row does not count)."""
    out = []
    for start in range(0, len(queries), BLOCK):
        distances = torch.cdist(queries[start:start + BLOCK].double(), reference.double())
        if skip_self:
            rows = torch.arange(distances.shape[0])
            distances[rows, rows + start] = math.inf
        out.append(distances.min(1).values)
    return torch.cat(out)


def nearest_neighbours(queries: Tensor, reference: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(distances, indices), each (len(queries), k): the k nearest reference rows, nearest first."""
    found = [torch.cdist(queries[s:s + BLOCK].double(), reference.double()).topk(k, dim=1, largest=False)
             for s in range(0, len(queries), BLOCK)]
    return torch.cat([f.values for f in found]), torch.cat([f.indices for f in found])


def copy_threshold(train: Tensor, reference_count: int = 5000, seed: int = 0) -> float:
    """The 5th percentile of training images' distances to their nearest other training image
    (measured on up to `reference_count` of them, against all)."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:reference_count]
    ordered = torch.cat([train[order], train[torch.ones(len(train), dtype=torch.bool).index_fill_(0, order, False)]])
    return float(torch.quantile(nearest_distances(ordered[:len(order)], ordered, skip_self=True), COPY_QUANTILE))


def copy_share(samples: Tensor, train: Tensor, threshold: float) -> float:
    return float((nearest_distances(samples, train) < threshold).double().mean())


def kmeans(points: Tensor, k: int, seed: int = 0, iterations: int = 30) -> Tensor:
    """k centres of `points` (Lloyd's algorithm from a k-means++ start)."""
    generator = torch.Generator().manual_seed(seed)
    points = points.double()
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    for _ in range(k - 1):
        weights = torch.cdist(points, centres).min(1).values.pow(2)
        centres = torch.cat([centres, points[torch.multinomial(weights + 1e-12, 1, generator=generator)]])
    for _ in range(iterations):
        cell = torch.cdist(points, centres).argmin(1)
        for j in range(k):
            members = points[cell == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


def mann_whitney_z(heldout: Tensor, samples: Tensor) -> float:
    """Z of the U statistic counting pairs where a sample lies farther from T than a held-out image."""
    n, m = len(heldout), len(samples)
    ranks = torch.cat([heldout, samples]).argsort().argsort().double() + 1  # ties: distances are continuous
    u = float(ranks[n:].sum()) - m * (m + 1) / 2
    return (u - m * n / 2) / math.sqrt(m * n * (m + n + 1) / 12)


def data_copying_ct(samples: Tensor, train: Tensor, heldout: Tensor, cells: int = 10, seed: int = 0) -> float:
    """Meehan et al.'s C_T of `samples` against training features `train` and held-out real features."""
    centres = kmeans(train, cells, seed)
    sample_cell, heldout_cell = torch.cdist(samples.double(), centres).argmin(1), \
        torch.cdist(heldout.double(), centres).argmin(1)
    sample_dist, heldout_dist = nearest_distances(samples, train), nearest_distances(heldout, train)
    total = weight = 0.0
    for j in range(cells):
        in_samples, in_heldout = sample_cell == j, heldout_cell == j
        if in_samples.sum() < MIN_PER_CELL or in_heldout.sum() < MIN_PER_CELL:
            continue
        share = float(in_heldout.double().mean())
        total += share * mann_whitney_z(heldout_dist[in_heldout], sample_dist[in_samples])
        weight += share
    if weight == 0:
        return math.nan
    return total / weight
