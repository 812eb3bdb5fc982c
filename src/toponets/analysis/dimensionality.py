"""Effective dimensionality: the participation ratio of a layer's PCA eigenspectrum (METHODS §3).

ED = (Σλ)² / Σλ², with λ the eigenvalues of the responses' covariance
(sklearn ``PCA().fit(X).explained_variance_`` for X = stimuli x units), as in
TDANN and Elmoznino & Bonner. Because the covariance C is symmetric,
Σλ = tr(C) and Σλ² = ‖C‖²_F, so no eigendecomposition is needed.

Responses are never stored: float64 sums and cross-products are accumulated
batch by batch (on the responses' device). Vision features default to
spatially max-pooled channels, TDANN's choice for its ED figure (METHODS §3).

Beside the paper's ED, `unit_norm` first scales each stimulus's response
vector to unit length. That removes a gain that varies from stimulus to
stimulus and scales every unit alike (image contrast, in a ReLU network): in
weakly trained networks it is one principal component carrying most of the
variance, which pins the participation ratio near 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import nn

from .covariance import CovarianceAccumulator, accumulate_responses


class UnitNormAccumulator(CovarianceAccumulator):
    """Covariance of the responses after scaling each stimulus's response vector to unit length (zero stays zero)."""

    def update(self, responses: torch.Tensor | np.ndarray) -> None:
        x = torch.as_tensor(responses).to(torch.float64)
        if x.dim() == 2:  # anything else: the base class names the bad shape
            x = x / x.norm(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float64).tiny)
        super().update(x)


def effective_dim(acc: CovarianceAccumulator) -> float:
    """Participation ratio of the covariance's eigenvalues, tr(C)² / ‖C‖²_F; NaN for constant features."""
    cov = acc.covariance()
    squares = torch.linalg.matrix_norm(cov).item() ** 2
    return cov.trace().item() ** 2 / squares if squares > 0 else float("nan")


def layer_effective_dim(responses: Iterable[torch.Tensor | np.ndarray]) -> float:
    """Effective dimensionality of one layer from a stream of (B, units) responses."""
    return effective_dim(CovarianceAccumulator.of(responses))


def model_effective_dim(
    model: nn.Module,
    layers: Iterable[str],
    batches: Iterable,
    device: str | torch.device = "cpu",
    reduce: str = "max",
    unit_norm: bool = False,
) -> tuple[dict[str, float], int]:
    """Effective dimensionality of each of `layers` over the stimuli in `batches`, in one pass; also the stimulus count.

    `reduce` collapses conv outputs over space (and Linear outputs over
    tokens), see `stream_activations`; `unit_norm`: each stimulus's responses
    scaled to unit length first (`UnitNormAccumulator`), a variant beside the paper's.
    """
    accumulator = UnitNormAccumulator if unit_norm else CovarianceAccumulator
    accumulators, n = accumulate_responses(model, layers, batches, device, reduce, accumulator)
    return {name: effective_dim(acc) for name, acc in accumulators.items()}, n


def mean_effective_dim(per_layer: Mapping[str, float]) -> float:
    """A model's ED: the mean over its layers, ignoring undefined (NaN) layers; NaN if none is defined.

    The paper reports one ED per model but does not say how layers are
    combined (METHODS §3); the plain mean over layers is our choice.
    """
    values = [v for v in per_layer.values() if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")
