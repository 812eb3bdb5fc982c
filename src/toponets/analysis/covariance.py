"""Streaming covariance of unit responses: the base of correlation (smoothness) and PCA (dimensionality).

Responses arrive as (stimuli, units) batches and are never stored: float64
sums and cross-products are accumulated, after shifting by the first batch's
mean, which keeps the covariance accurate when means dwarf spreads.
Per-unit minima and maxima mark units whose response never changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing

import numpy as np
import torch
from torch import nn

from .activations import stream_activations


class CovarianceAccumulator:
    """Sample covariance (ddof = 1) of the columns of a (stimuli, units) stream, one batch at a time."""

    def __init__(self, units: int):
        if units < 1:
            raise ValueError(f"need at least one unit, got {units}")
        self.units = units
        self.n = 0
        self._shift = self._sum = self._cross = self._min = self._max = None

    def update(self, responses: torch.Tensor | np.ndarray) -> None:
        """Add a (B, units) batch of responses."""
        x = torch.as_tensor(responses).to(torch.float64)
        if x.dim() != 2 or x.shape[1] != self.units:
            raise ValueError(f"expected a (batch, {self.units}) array of responses, got shape {tuple(x.shape)}")
        if x.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = x.mean(dim=0)
            self._sum = torch.zeros_like(self._shift)
            self._cross = torch.zeros(self.units, self.units, dtype=torch.float64, device=x.device)
            self._min, self._max = x.amin(dim=0), x.amax(dim=0)
        else:
            self._min = torch.minimum(self._min, x.amin(dim=0))
            self._max = torch.maximum(self._max, x.amax(dim=0))
        x = x - self._shift
        self._sum += x.sum(dim=0)
        self._cross.addmm_(x.T, x)
        self.n += x.shape[0]

    def covariance(self) -> torch.Tensor:
        """(units, units) float64 covariance, on the responses' device."""
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 stimuli, got {self.n}")
        mean = self._sum / self.n
        return (self._cross - self.n * torch.outer(mean, mean)) / (self.n - 1)

    @classmethod
    def of(cls, responses: Iterable[torch.Tensor | np.ndarray]):
        """An accumulator over a whole stream of (B, units) responses."""
        accumulator = None
        for batch in responses:
            if accumulator is None:
                accumulator = cls(batch.shape[1])
            accumulator.update(batch)
        if accumulator is None:
            raise ValueError("no responses: the stream was empty")
        return accumulator

    def constant(self) -> torch.Tensor:
        """Boolean mask of the units whose response never changed."""
        return self._min == self._max


def accumulate_responses(
    model: nn.Module,
    layers: Iterable[str],
    batches: Iterable,
    device: str | torch.device,
    reduce: str,
    accumulator: type[CovarianceAccumulator] = CovarianceAccumulator,
    per_unit: bool = False,
) -> tuple[dict[str, CovarianceAccumulator], int]:
    """One pass over `batches`: an `accumulator` of each layer's responses (`per_unit`: see
    `stream_activations`), and the stimulus count."""
    layers = list(layers)
    accumulators: dict[str, CovarianceAccumulator] = {}
    with closing(stream_activations(model, layers, batches, device=device, reduce=reduce, per_unit=per_unit)) as stream:
        for responses in stream:
            for name, x in responses.items():
                if name not in accumulators:
                    accumulators[name] = accumulator(x.shape[1])
                accumulators[name].update(x)
    if not accumulators:
        raise ValueError("no stimuli: the batches were empty")
    return {name: accumulators[name] for name in layers}, next(iter(accumulators.values())).n
