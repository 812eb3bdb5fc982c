"""Effective dimensionality: the participation ratio of a layer's PCA eigenspectrum (METHODS §3).

ED = (Σλ)² / Σλ², with λ the eigenvalues of the responses' covariance
(sklearn ``PCA().fit(X).explained_variance_`` for X = stimuli x units), as in
TDANN and Elmoznino & Bonner. Because the covariance C is symmetric,
Σλ = tr(C) and Σλ² = ‖C‖²_F, so no eigendecomposition is needed.

Responses are never stored: float64 sums and cross-products are accumulated
batch by batch (on the responses' device). Vision features default to
spatially max-pooled channels, TDANN's choice for its ED figure (METHODS §3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from contextlib import closing

import numpy as np
import torch
from torch import nn

from .activations import stream_activations


class CovarianceAccumulator:
    """Sample covariance (ddof = 1) of the columns of a (stimuli, features) stream, one batch at a time.

    Data are shifted by the first batch's mean before the float64 sums are
    taken, which keeps the covariance accurate when means dwarf spreads.
    """

    def __init__(self, features: int):
        if features < 1:
            raise ValueError(f"need at least one feature, got {features}")
        self.features = features
        self.n = 0
        self._shift = self._sum = self._cross = None

    def update(self, responses: torch.Tensor | np.ndarray) -> None:
        """Add a (B, features) batch."""
        x = torch.as_tensor(responses).to(torch.float64)
        if x.dim() != 2 or x.shape[1] != self.features:
            raise ValueError(f"expected a (batch, {self.features}) array of responses, got shape {tuple(x.shape)}")
        if x.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = x.mean(dim=0)
            self._sum = torch.zeros_like(self._shift)
            self._cross = torch.zeros(self.features, self.features, dtype=torch.float64, device=x.device)
        x = x - self._shift
        self._sum += x.sum(dim=0)
        self._cross.addmm_(x.T, x)
        self.n += x.shape[0]

    def covariance(self) -> torch.Tensor:
        """(features, features) float64 covariance, on the responses' device."""
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 stimuli, got {self.n}")
        mean = self._sum / self.n
        return (self._cross - self.n * torch.outer(mean, mean)) / (self.n - 1)

    def effective_dim(self) -> float:
        """Participation ratio of the covariance's eigenvalues, tr(C)² / ‖C‖²_F; NaN for constant features."""
        cov = self.covariance()
        squares = torch.linalg.matrix_norm(cov).item() ** 2
        return cov.trace().item() ** 2 / squares if squares > 0 else float("nan")


def layer_effective_dim(responses: Iterable[torch.Tensor | np.ndarray]) -> float:
    """Effective dimensionality of one layer from a stream of (B, units) responses."""
    accumulator = None
    for batch in responses:
        if accumulator is None:
            accumulator = CovarianceAccumulator(batch.shape[1])
        accumulator.update(batch)
    if accumulator is None:
        raise ValueError("no responses: the stream was empty")
    return accumulator.effective_dim()


def model_effective_dim(
    model: nn.Module,
    layers: Iterable[str],
    batches: Iterable,
    device: str | torch.device = "cpu",
    reduce: str = "max",
) -> tuple[dict[str, float], int]:
    """Effective dimensionality of each of `layers` over the stimuli in `batches`, in one pass; also the stimulus count.

    `reduce` collapses conv outputs over space (and Linear outputs over
    tokens), see `stream_activations`.
    """
    layers = list(layers)
    accumulators: dict[str, CovarianceAccumulator] = {}
    with closing(stream_activations(model, layers, batches, device=device, reduce=reduce)) as stream:
        for responses in stream:
            for name, x in responses.items():
                if name not in accumulators:
                    accumulators[name] = CovarianceAccumulator(x.shape[1])
                accumulators[name].update(x)
    if not accumulators:
        raise ValueError("no stimuli: the batches were empty")
    n = next(iter(accumulators.values())).n
    return {name: accumulators[name].effective_dim() for name in layers}, n


def mean_effective_dim(per_layer: Mapping[str, float]) -> float:
    """A model's ED: the mean over its layers, ignoring undefined (NaN) layers; NaN if none is defined.

    The paper reports one ED per model but does not say how layers are
    combined (METHODS §3); the plain mean over layers is our choice.
    """
    values = [v for v in per_layer.values() if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")
