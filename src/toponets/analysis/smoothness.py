"""Smoothness: how much unit-to-unit response correlation falls off with sheet distance.

The paper's definition (METHODS §2.1): per topographic layer, Pearson r across
stimuli between every pair of units, binned by the Euclidean distance between
the units' (row, col) sheet positions (or the positions a model gives its
units, TDANN's in mm: `unit_positions`); smoothness = highest - lowest binned
value. Bins are equal-width over [0, max distance] with the maximum in the last
bin; a bin's value is the mean r of its pairs (NaN when empty). Units with zero
variance have no r and are left out.

The binning rule (ours; the paper gives none): max - min picks up the sampling
noise of bins with few pairs (the farthest of 20 bins on an 8x8 sheet holds 2),
so, walking in from the farthest bin, a bin with fewer than `min_pairs` sheet
pairs is joined with its inner neighbours until the joined bin holds at least
`min_pairs`; a short remainder at the near end joins its outer neighbour. A
sheet with fewer than 4 x `min_pairs` pairs (a 4x4 sheet has 120) asks a
quarter of its pairs per bin instead, so that its curve keeps several bins.
Empty bins outside such a run stay as they are (NaN). `min_pairs` 1 gives the
plain equal-width bins. With every score comes its floor: the mean score of
the same correlations with the units at `shuffles` random places on the sheet,
what responses without spatial structure score with this many stimuli. A
layer whose unit pairs all correlate alike (its units collapsed to one set of
weights) has no score (NaN, flagged `collapsed`) rather than a flat curve's 0.

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
from ..unit_positions import given_positions, layer_positions
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

    edges: np.ndarray  # (bins + 1,) over [0, max distance]; joined bins span several equal-width ones
    index: np.ndarray  # (pairs,) bin of each pair
    upper: np.ndarray  # (units, units) boolean mask of the pairs i < j

    @property
    def centres(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2


MIN_PAIRS = 100  # unstructured responses on an 8x8 sheet from 100 stimuli: 0.084 with plain bins, 0.020 with these
SHUFFLES = 10


def joined_bins(counts: np.ndarray, min_pairs: int) -> list[tuple[int, int]]:
    """(first, last) equal-width bins of each joined bin, near to far: see the module's binning rule."""
    groups: list[list[int]] = []  # far to near
    run: list[int] = []
    pairs = 0
    for k in reversed(range(len(counts))):
        if not run and counts[k] == 0:
            groups.append([k, k])
            continue
        run.append(k)
        pairs += counts[k]
        if pairs >= min_pairs:
            groups.append([k, run[0]])
            run, pairs = [], 0
    if run:  # a short run at the near end: its empty inner bins stay, the rest joins the nearest outer non-empty bin
        first = min(k for k in run if counts[k] > 0)
        filled = [i for i, (lo, hi) in enumerate(groups) if counts[lo : hi + 1].sum() > 0]
        if filled:
            groups[filled[-1] :] = [[first, groups[filled[-1]][1]]]
        else:
            groups.append([first, run[0]])
        groups += [[k, k] for k in range(first - 1, -1, -1)]
    return [(lo, hi) for lo, hi in reversed(groups)]


Where = Sheet | np.ndarray  # a sheet, or (units, 2) unit positions (unit_positions.py)


def unit_places(where: Where) -> np.ndarray:
    """(units, 2) float64 positions: a sheet's (row, col), or the given array."""
    places = where.positions() if isinstance(where, Sheet) else np.asarray(where)
    if places.ndim != 2 or places.shape[1] != 2:
        raise ValueError(f"unit positions must be a (units, 2) array, got shape {places.shape}")
    return places.astype(np.float64)


def distance_bins(where: Where, bins: int = 20, min_pairs: int = MIN_PAIRS) -> DistanceBins:
    """Distance bins for the units of `where` (a sheet, or (units, 2) positions): `bins` equal-width ones over
    [0, max distance] (the maximum in the last), sparse far ones joined until each holds at least `min_pairs`
    pairs (a quarter of the pairs if fewer)."""
    if isinstance(where, Sheet):
        return _sheet_bins(where, bins, min_pairs)
    return _bins(unit_places(where), bins, min_pairs)


@lru_cache(maxsize=32)
def _sheet_bins(sheet: Sheet, bins: int, min_pairs: int) -> DistanceBins:
    if sheet.units < 2:
        raise ValueError(f"a {sheet.height}x{sheet.width} sheet has no unit pairs")
    return _bins(unit_places(sheet), bins, min_pairs)


def _bins(places: np.ndarray, bins: int, min_pairs: int) -> DistanceBins:
    from scipy.spatial.distance import pdist  # scipy.spatial costs ~1 s to import; most jobs never need it

    if bins < 1:
        raise ValueError(f"need at least one distance bin, got {bins}")
    if min_pairs < 1:
        raise ValueError(f"min_pairs must be at least 1, got {min_pairs}")
    if len(places) < 2:
        raise ValueError(f"{len(places)} unit(s) have no unit pairs")
    distances = pdist(places)  # scipy pdist order == upper-triangle row-major order
    edges = np.linspace(0.0, distances.max(), bins + 1)
    index = np.minimum(np.searchsorted(edges, distances, side="right") - 1, bins - 1)
    groups = joined_bins(np.bincount(index, minlength=bins), min(min_pairs, max(1, len(distances) // 4)))
    joined = np.empty(bins, dtype=np.intp)
    for g, (lo, hi) in enumerate(groups):
        joined[lo : hi + 1] = g
    upper = np.triu(np.ones((len(places), len(places)), dtype=bool), k=1)
    return DistanceBins(
        edges=np.array([edges[lo] for lo, _ in groups] + [edges[-1]]), index=joined[index], upper=upper
    )


@dataclass(frozen=True)
class SmoothnessResult:
    """A layer's binned correlation-vs-distance curve, its smoothness (max - min of the curve) and its floor."""

    distance: np.ndarray  # (bins,) bin centres, in sheet units (or the given positions', mm for TDANN)
    r: np.ndarray  # (bins,) mean Pearson r of the pairs in each bin; NaN where none
    pairs: np.ndarray  # (bins,) number of pairs with a defined r in each bin
    score: float  # NaN when no bin has a value, or the layer collapsed
    floor: float = float("nan")  # mean score with the units at shuffled places; NaN when not computed
    collapsed: bool = False  # every pair correlates alike (units with one set of weights): no score


def correlation_profile(
    corr: np.ndarray, where: Where, bins: int = 20, min_pairs: int = MIN_PAIRS, shuffles: int = 0, seed: int = 0
) -> SmoothnessResult:
    """Bin the pairwise correlations `corr` (units x units, NaN = undefined) of the units of `where` (a sheet,
    or their positions) by distance; with `shuffles` > 0 also the floor, over that many seeded random
    placements of the units."""
    corr = np.asarray(corr)
    units = where.units if isinstance(where, Sheet) else len(where)
    if corr.shape != (units, units):
        raise ValueError(f"expected a {units}x{units} correlation matrix, got shape {corr.shape}")
    binning = distance_bins(where, bins, min_pairs)
    curve, pairs = _binned(corr, binning)
    if _collapsed(corr[binning.upper]):
        return SmoothnessResult(binning.centres, curve, pairs, score=float("nan"), collapsed=True)
    rng = np.random.default_rng(seed)
    floors = []
    for _ in range(shuffles):  # one permuted copy of corr at a time: unit k now sits where unit p[k] sat
        p = rng.permutation(units)
        floors.append(_score(_binned(corr[np.ix_(p, p)], binning)[0]))
    floor = float(np.nanmean(floors)) if floors and not np.isnan(floors).all() else float("nan")
    return SmoothnessResult(distance=binning.centres, r=curve, pairs=pairs, score=_score(curve), floor=floor)


COLLAPSE_SPREAD = 1e-6  # pairwise r spanning less than this: the units respond as one


def _collapsed(r: np.ndarray) -> bool:
    """Whether the defined pairwise correlations `r` are all the same, so that a flat curve reads 0 but says
    nothing about topography (a layer whose units TopoLoss pulled to one set of weights)."""
    r = r[~np.isnan(r)]
    return r.size > 0 and float(r.max() - r.min()) < COLLAPSE_SPREAD


def _binned(corr: np.ndarray, binning: DistanceBins) -> tuple[np.ndarray, np.ndarray]:
    """Mean r and number of defined pairs per bin."""
    r = corr[binning.upper]
    defined = ~np.isnan(r)
    index = binning.index[defined]
    size = len(binning.edges) - 1
    pairs = np.bincount(index, minlength=size)
    sums = np.bincount(index, weights=r[defined], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / pairs, pairs


def _score(curve: np.ndarray) -> float:
    """max - min of a binned curve (the paper's smoothness); NaN when no bin has a value."""
    return float(np.nanmax(curve) - np.nanmin(curve)) if not np.isnan(curve).all() else float("nan")


def layer_smoothness(
    responses: Iterable[torch.Tensor | np.ndarray], bins: int = 20, min_pairs: int = MIN_PAIRS,
    shuffles: int = SHUFFLES, seed: int = 0, positions: np.ndarray | None = None,
) -> SmoothnessResult:
    """Smoothness of one layer from a stream of (B, units) responses, the units at `positions` ((units, 2)),
    by default on the sheet `sheet_for(units)`."""
    accumulator = CorrelationAccumulator.of(responses)
    where = sheet_for(accumulator.units) if positions is None else positions
    return correlation_profile(accumulator.correlation(), where, bins, min_pairs, shuffles, seed)


def model_smoothness(
    model: nn.Module,
    layers: Iterable[str],
    batches: Iterable,
    device: str | torch.device = "cpu",
    bins: int = 20,
    reduce: str = "mean",
    min_pairs: int = MIN_PAIRS,
    shuffles: int = SHUFFLES,
    seed: int = 0,
) -> tuple[dict[str, SmoothnessResult], int]:
    """Smoothness (and floor) of each of `layers` over the stimuli in `batches`, in one pass; also the stimulus
    count. Units sit where the model puts them (`unit_positions`): on the sheet, or at given positions."""
    accumulators, n = accumulate_responses(model, layers, batches, device, reduce, CorrelationAccumulator,
                                           per_unit=True)
    results = {
        name: correlation_profile(acc.correlation(), _where(model, name, acc.units), bins, min_pairs, shuffles, seed)
        for name, acc in accumulators.items()
    }
    return results, n


def _where(model: nn.Module, layer: str, units: int) -> Where:
    """The sheet of a TopoNet layer (its bins cached), or the given positions of a TDANN layer."""
    return sheet_for(units) if given_positions(model, layer) is None else layer_positions(model, layer, units)
