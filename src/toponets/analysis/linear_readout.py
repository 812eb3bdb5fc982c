"""Top-1 of a model without a classifier: a linear readout trained on its frozen features.

TDANN (Margalit et al. 2024) was trained with SimCLR, so its ImageNet accuracy
(paper Figure 2A, §3.1) is that of a linear classifier on its 512-d pooled
features. Ours is a plain probe, not TDANN's VISSL linear-evaluation recipe:
features of centre crops (no augmentation) are computed once, standardised
with the training set's mean and sd, and a linear layer is trained on them
with Adam and cross-entropy for a fixed number of epochs (seeded); top-1 is
then read on the validation images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@torch.no_grad()
def pooled_features(model: nn.Module, batches: Iterable, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(images, features) float32 outputs of `model` (its pooled features) and (images,) labels, on the CPU."""
    model.to(device).eval()
    xs, ys = [], []
    for images, labels in batches:
        xs.append(model(images.to(device)).float().flatten(1).cpu())
        ys.append(labels)
    if not xs:
        raise ValueError("no images: the batches were empty")
    return torch.cat(xs), torch.cat(ys)


@dataclass
class Readout:
    """A linear classifier on standardised features."""

    mean: torch.Tensor
    std: torch.Tensor
    linear: nn.Linear

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x - self.mean) / self.std).argmax(dim=1)

    def top1(self, x: torch.Tensor, y: torch.Tensor) -> float:
        return float((self.predict(x) == y).float().mean())


def fit_readout(
    x: torch.Tensor, y: torch.Tensor, classes: int, epochs: int = 20, lr: float = 1e-3, batch_size: int = 1024,
    weight_decay: float = 0.0, seed: int = 0,
) -> Readout:
    """Train a linear readout of `classes` classes on features `x` (n, d) with labels `y` (module doc)."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as feature rows, got {len(x)} and {len(y)}")
    generator = torch.Generator().manual_seed(seed)
    mean, std = x.mean(dim=0), x.std(dim=0).clamp(min=1e-6)
    z = (x - mean) / std
    linear = nn.Linear(x.shape[1], classes)
    with torch.no_grad():  # a seeded start, whatever the global RNG
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=generator) * 0.01)
        linear.bias.zero_()
    optimiser = torch.optim.Adam(linear.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        for index in torch.randperm(len(z), generator=generator).split(batch_size):
            optimiser.zero_grad()
            nn.functional.cross_entropy(linear(z[index]), y[index]).backward()
            optimiser.step()
    return Readout(mean, std, linear)
