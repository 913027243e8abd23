"""The class labels G is asked to draw (conditional=true): checked, or drawn at random."""

import torch
from torch import Tensor


def class_labels(n: int, num_classes: int | None, device: torch.device,
                 labels: Tensor | int | None = None) -> Tensor | None:
    """`n` class indices for G: `labels` checked (a tensor of n, or one int for all n), uniformly
    random classes when None; None for an unconditional model (`num_classes` None)."""
    if num_classes is None:
        if labels is not None:
            raise ValueError("This model was trained without conditional=true: it takes no labels.")
        return None
    if labels is None:
        return torch.randint(num_classes, (n,), device=device)
    labels = torch.full((n,), labels) if isinstance(labels, int) else torch.as_tensor(labels)
    if labels.shape != (n,) or labels.is_floating_point():
        raise ValueError(f"labels must be an int or {n} integer class indices, got shape {tuple(labels.shape)}.")
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (this model has {num_classes} classes), "
                         f"got {int(labels.min())}..{int(labels.max())}.")
    return labels.long().to(device)
