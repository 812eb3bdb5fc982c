"""Category-selectivity maps on the cortical sheet and their structural similarity (METHODS §4, Figure 5A).

- A unit's response to an image comes from `toponets.analysis.activations`:
  a conv channel's output reduced over space, the spatial **mean** by
  default (``reduce="max"`` is the alternative). TDANN instead treats every
  (channel, row, col) as its own unit; TopoNets' sheet has one unit per
  channel, so a reduction is needed and the paper does not name it (METHODS
  §2.2 ⚠). Linear layers (ViT ``mlp.3``) are reduced over tokens.
- Selectivity is the Welch t of METHODS §4.1 / TDANN ``array_utils.tstat``:
  (mean_on - mean_off) / sqrt(sd_on²/N_on + sd_off²/N_off), with
  ``np.nanstd`` (ddof 0), N the number of images, and t = 0 where the
  denominator is 0.
- A layer's t-values are placed row-major on ``sheet_for(units)``; a layer
  with given unit positions (TDANN: every (channel, row, col), a fixed
  subset, `unit_positions`) is binned into cells over its positions
  (`selectivity_map`).
- Structural similarity is ``skimage.metrics.structural_similarity`` with its
  defaults (uniform window, K1 0.01, K2 0.03, sample covariance) on the two
  maps **each min-max scaled to [0, 1]** first, ``data_range`` = 1, and
  ``win_size`` = 7 (the default) or, on sheets with a side under 7, the
  largest odd number not above the shorter side. The paper reads SSIM as a
  signed similarity (face vs scene -0.41 "a negative correlation"). On raw
  signed t-maps SSIM's luminance and structure terms both turn negative where
  local means have opposite signs, so a smooth map against its own negation
  scores +0.7 to +0.9. Scaled to [0, 1], the negation of a map is 1 - map:
  the luminance term stays positive and the structure term is negative, so
  SSIM(map, -map) < 0, SSIM(map, map) = 1 and unrelated maps score near 0.
  A sheet with a side under 3, or a constant map, has no defined SSIM (NaN).
  The Pearson r between the maps is reported beside SSIM.
- SSIM compares the maps window by window, so two maps whose values are
  correlated unit by unit score high even with no topography at all. The
  control `shuffled_ssim` places the units of both maps at the same random
  positions and averages SSIM over such shuffles: what is left of the SSIM
  above it is what the layout on the sheet adds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from skimage.metrics import structural_similarity
from torch import nn

from ..data.stimuli import Contrast
from ..sheet import sheet_for
from .activations import stream_activations

DEFAULT_WIN_SIZE = 7  # skimage's default
MIN_WIN_SIZE = 3

# The map pairs whose structural similarity the paper reports, as (first, second) contrasts.
SSIM_PAIRS: dict[str, tuple[str, str]] = {
    "face_body": ("faces", "bodies"),
    "face_place": ("faces", "places"),
    "size_animacy": ("size", "animacy"),
    "size_objects_animacy": ("size_objects", "animacy"),
}


def welch_t(on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """(units,) float64 Welch t of (N_on, units) `on` against (N_off, units) `off` responses; 0 where undefined."""
    on, off = np.asarray(on, dtype=np.float64), np.asarray(off, dtype=np.float64)
    if on.ndim != 2 or off.ndim != 2 or on.shape[1] != off.shape[1]:
        raise ValueError(f"expected (images, units) arrays with the same units, got shapes {on.shape} and {off.shape}")
    if len(on) == 0 or len(off) == 0:
        raise ValueError(f"a t statistic needs images on both sides, got {len(on)} on and {len(off)} off")
    denominator = np.sqrt(np.nanstd(on, axis=0) ** 2 / len(on) + np.nanstd(off, axis=0) ** 2 / len(off))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator == 0, 0.0, (np.nanmean(on, axis=0) - np.nanmean(off, axis=0)) / denominator)


def contrast_t(responses: np.ndarray, labels: Sequence[str], contrast: Contrast) -> np.ndarray:
    """Welch t per unit of `contrast`, from (images, units) `responses` and each image's label."""
    labels = np.asarray(labels)
    if len(labels) != len(responses):
        raise ValueError(f"{len(labels)} labels for {len(responses)} images")
    on, off = np.isin(labels, contrast.on), np.isin(labels, contrast.off)
    if not on.any() or not off.any():
        raise ValueError(f"contrast '{contrast.name}' has no images on one side: {on.sum()} with labels "
                         f"{list(contrast.on)}, {off.sum()} with labels {list(contrast.off)}")
    return welch_t(responses[on], responses[off])


UNITS_PER_CELL = 4  # given positions are binned into square cells holding this many units on average


def selectivity_map(t: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
    """One t-value per unit placed on a map: row-major on the unit count's cortical sheet, or, with
    `positions` ((units, 2); TDANN's in mm), binned into about square cells of `UNITS_PER_CELL` units on average
    over their bounding box, a cell's value the mean t of its units (empty cells: the map's mean t). The
    sheet's own (row, col) positions give cells of one unit each, so its map is the sheet map."""
    t = np.asarray(t, dtype=np.float64)
    if positions is None:
        return sheet_for(len(t)).to_map(t)
    places = np.asarray(positions, dtype=np.float64)
    low, span = places.min(axis=0), np.ptp(places, axis=0)
    lattice = np.allclose(places, np.round(places)) and len(np.unique(places, axis=0)) == len(places)
    if lattice:  # cells of one unit each: the sheet's own map
        cells = np.round(places - low).astype(np.intp)
    else:  # about square cells of UNITS_PER_CELL units on average, the far edge in the last cell
        span = np.maximum(span, 1e-12)
        side = float(np.sqrt(np.prod(span) * UNITS_PER_CELL / len(t)))
        count = np.maximum(np.round(span / side), 1).astype(np.intp)
        cells = np.minimum(np.floor((places - low) / span * count).astype(np.intp), count - 1)
    shape = tuple(cells.max(axis=0) + 1)
    flat = np.ravel_multi_index((cells[:, 0], cells[:, 1]), shape)
    counts = np.bincount(flat, minlength=shape[0] * shape[1])
    sums = np.bincount(flat, weights=t, minlength=shape[0] * shape[1])
    values = np.full(counts.shape, t.mean())
    values[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return values.reshape(shape)


def ssim_win_size(shape: tuple[int, int]) -> int | None:
    """skimage's default window (7), shrunk to the largest odd size fitting the shorter side; None below 3."""
    side = min(shape)
    win = min(DEFAULT_WIN_SIZE, side if side % 2 else side - 1)
    return win if win >= MIN_WIN_SIZE else None


@dataclass(frozen=True)
class MapSimilarity:
    """How alike two maps of one sheet are: SSIM of the [0, 1]-scaled maps, its window, and the Pearson r."""

    ssim: float  # NaN where undefined (see module doc)
    win_size: int | None
    r: float  # NaN when a map is constant
    ssim_shuffled: float = float("nan")  # mean SSIM with the units of both maps shuffled alike; NaN if not asked


def unit_scaled(values: np.ndarray) -> np.ndarray | None:
    """`values` min-max scaled to [0, 1]; None for a constant map (no range to scale)."""
    low, high = float(values.min()), float(values.max())
    return None if high == low else (values - low) / (high - low)


def map_ssim(first: np.ndarray, second: np.ndarray) -> MapSimilarity:
    """SSIM of two maps of one sheet, each scaled to [0, 1] (data_range 1), and their Pearson r (module doc)."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 2:
        raise ValueError(f"SSIM needs two 2-D maps of one shape, got {first.shape} and {second.shape}")
    win = ssim_win_size(first.shape)
    scaled_first, scaled_second = unit_scaled(first), unit_scaled(second)
    if scaled_first is None or scaled_second is None:
        return MapSimilarity(float("nan"), win, float("nan"))
    r = float(np.corrcoef(first.ravel(), second.ravel())[0, 1])
    if win is None:
        return MapSimilarity(float("nan"), win, r)
    ssim = float(structural_similarity(scaled_first, scaled_second, win_size=win, data_range=1.0))
    return MapSimilarity(ssim, win, r)


def shuffled_ssim(first: np.ndarray, second: np.ndarray, shuffles: int, seed: int = 0) -> float:
    """Mean SSIM of the two maps over `shuffles` random layouts, each moving the units of both maps alike."""
    if shuffles < 1:
        raise ValueError(f"need at least one shuffle, got {shuffles}")
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(shuffles):
        order = rng.permutation(first.size)
        values.append(map_ssim(first.ravel()[order].reshape(first.shape), second.ravel()[order].reshape(first.shape)).ssim)
    return float(np.mean(values))


def layer_responses(
    model: nn.Module, layers: Iterable[str], batches: Iterable, device: str | torch.device = "cpu", reduce: str = "mean"
) -> dict[str, np.ndarray]:
    """{layer: (images, units) float32 responses} over all `batches`, in stimulus order (a layer with given
    unit positions: its per-unit responses, `unit_positions`)."""
    layers = list(layers)
    collected: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    for batch in stream_activations(model, layers, batches, device, reduce, per_unit=True):
        for name in layers:
            collected[name].append(batch[name].cpu())
    if not collected[layers[0]]:
        raise ValueError("no stimuli: the batches were empty")
    return {name: torch.cat(parts).numpy() for name, parts in collected.items()}


def selectivity_maps(
    responses: dict[str, np.ndarray], labels: Sequence[str], contrasts: Iterable[Contrast],
    positions: dict[str, np.ndarray | None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """{layer: {contrast: (h, w) t-map}} from per-layer (images, units) responses; `positions` gives a layer's
    unit positions (None or absent: its sheet)."""
    contrasts = list(contrasts)
    positions = positions or {}
    return {
        layer: {c.name: selectivity_map(contrast_t(x, labels, c), positions.get(layer)) for c in contrasts}
        for layer, x in responses.items()
    }


def pair_ssims(maps: dict[str, np.ndarray], shuffles: int = 0, seed: int = 0) -> dict[str, MapSimilarity]:
    """{pair: similarity} of one layer's maps, for the `SSIM_PAIRS` whose contrasts it has; with `shuffles`,
    also the shuffled-layout control."""
    similarities = {}
    for pair, (first, second) in SSIM_PAIRS.items():
        if first in maps and second in maps:
            similarity = map_ssim(maps[first], maps[second])
            if shuffles:
                control = shuffled_ssim(maps[first], maps[second], shuffles, seed)
                similarity = replace(similarity, ssim_shuffled=control)
            similarities[pair] = similarity
    return similarities
