"""Smoothness: how much unit-to-unit response correlation falls off with sheet distance.

The paper's definition (METHODS §2.1): per topographic layer, Pearson r across
stimuli between every pair of units, binned by the Euclidean distance between
the units' (row, col) sheet positions; smoothness = highest - lowest binned
value. Bins are equal-width over [0, max distance] with the maximum in the last
bin; a bin's value is the mean r of its pairs (NaN when empty). Units with zero
variance have no r and are left out.

Responses are never stored: float64 sums and cross-products are accumulated
batch by batch (on the responses' device), so 3,072 units x 100,000 stimuli
cost one units x units matrix per layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..sheet import Sheet, sheet_for
from .covariance import CovarianceAccumulator, accumulate_responses


class CorrelationAccumulator(CovarianceAccumulator):
    """Pearson correlation between the columns of a (stimuli, units) stream, one batch at a time."""

    def __init__(self, units: int):
        if units < 2:
            raise ValueError(f"correlating units needs at least 2 units, got {units}")
        super().__init__(units)

    def correlation(self) -> np.ndarray:
        """(units, units) float64 Pearson r; rows and columns of constant units are NaN."""
        cov = self.covariance()
        std = cov.diagonal().clamp(min=0).sqrt()
        r = (cov / torch.outer(std, std)).clamp(-1.0, 1.0)
        constant = self.constant()
        r[constant, :] = torch.nan
        r[:, constant] = torch.nan
        return r.cpu().numpy()


@dataclass(frozen=True)
class DistanceBins:
    """Distance bin of every unit pair of a sheet, in upper-triangle (i < j, row-major) order."""

    edges: np.ndarray  # (bins + 1,) over [0, max distance]
    index: np.ndarray  # (pairs,) bin of each pair
    upper: np.ndarray  # (units, units) boolean mask of the pairs i < j

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


@lru_cache(maxsize=32)
def distance_bins(sheet: Sheet, bins: int = 20) -> DistanceBins:
    """Equal-width distance bins over [0, max distance] for `sheet`; the maximum falls in the last bin."""
    if bins < 1:
        raise ValueError(f"need at least one distance bin, got {bins}")
    if sheet.units < 2:
        raise ValueError(f"a {sheet.height}x{sheet.width} sheet has no unit pairs")
    distances = sheet.pairwise_distances()  # scipy pdist order == upper-triangle row-major order
    edges = np.linspace(0.0, distances.max(), bins + 1)
    index = np.minimum(np.searchsorted(edges, distances, side="right") - 1, bins - 1)
    upper = np.triu(np.ones((sheet.units, sheet.units), dtype=bool), k=1)
    return DistanceBins(edges=edges, index=index.astype(np.intp), upper=upper)


@dataclass(frozen=True)
class SmoothnessResult:
    """A layer's binned correlation-vs-distance curve and its smoothness (max - min of the curve)."""

    distance: np.ndarray  # (bins,) bin centres, in sheet units
    r: np.ndarray  # (bins,) mean Pearson r of the pairs in each bin; NaN where none
    pairs: np.ndarray  # (bins,) number of pairs with a defined r in each bin
    score: float  # NaN when no bin has a value


def correlation_profile(corr: np.ndarray, sheet: Sheet, bins: int = 20) -> SmoothnessResult:
    """Bin the pairwise correlations `corr` (units x units, NaN = undefined) of `sheet` by distance."""
    corr = np.asarray(corr)
    if corr.shape != (sheet.units, sheet.units):
        raise ValueError(f"expected a {sheet.units}x{sheet.units} correlation matrix, got shape {corr.shape}")
    binning = distance_bins(sheet, bins)
    r = corr[binning.upper]
    defined = ~np.isnan(r)
    index = binning.index[defined]
    pairs = np.bincount(index, minlength=bins)
    sums = np.bincount(index, weights=r[defined], minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = sums / pairs
    score = float(np.nanmax(curve) - np.nanmin(curve)) if pairs.any() else float("nan")
    return SmoothnessResult(distance=binning.centres, r=curve, pairs=pairs, score=score)


def layer_smoothness(responses: Iterable[torch.Tensor | np.ndarray], bins: int = 20) -> SmoothnessResult:
    """Smoothness of one layer from a stream of (B, units) responses; the sheet follows `sheet_for(units)`."""
    accumulator = CorrelationAccumulator.of(responses)
    return correlation_profile(accumulator.correlation(), sheet_for(accumulator.units), bins)


def model_smoothness(
    model: nn.Module,
    layers: Iterable[str],
    batches: Iterable,
    device: str | torch.device = "cpu",
    bins: int = 20,
    reduce: str = "mean",
) -> tuple[dict[str, SmoothnessResult], int]:
    """Smoothness of each of `layers` over the stimuli in `batches`, in one pass; also the stimulus count."""
    accumulators, n = accumulate_responses(model, layers, batches, device, reduce, CorrelationAccumulator)
    results = {
        name: correlation_profile(acc.correlation(), sheet_for(acc.units), bins) for name, acc in accumulators.items()
    }
    return results, n
