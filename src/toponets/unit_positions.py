"""Where a layer's units sit: the positions a model gives (TDANN), or the cortical sheet (TopoNets).

Every topographic analysis (smoothness, the correlation-vs-distance curves,
selectivity maps, unit-to-voxel positions) takes a layer's units as an
(units, 2) array of positions. A TopoNet's are its sheet's (row, col)
(`Sheet.positions`), one unit per channel. A model with given positions
exposes ``positioned_layers`` ({module name: (units, 2) tensor}); there a unit
is one (channel, row, col) of the layer's output, in the order of
``output.flatten(1)`` (TDANN's own order), with its position in mm. Such layers
have up to 200,704 units (TDANN layer1 at 224 px), so the analyses read a fixed
subset of at most `MAX_UNITS`, the same for every analysis and run (seeded).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .sheet import sheet_for

MAX_UNITS = 4096  # a 4,096 x 4,096 correlation matrix: as large as a TopoNet's widest layer (ViT mlp 3,072)
SUBSET_SEED = 0


def given_positions(model: nn.Module, layer: str) -> torch.Tensor | None:
    """The (units, 2) positions `model` gives for `layer`, or None when its units sit on a sheet."""
    return getattr(model, "positioned_layers", {}).get(layer)


def unit_subset(units: int, max_units: int = MAX_UNITS) -> np.ndarray:
    """Sorted indices of the units read from a layer of `units` given positions: all, or a seeded random
    `max_units` of them."""
    if units <= max_units:
        return np.arange(units)
    return np.sort(np.random.default_rng(SUBSET_SEED).choice(units, size=max_units, replace=False))


def layer_positions(model: nn.Module, layer: str, units: int, max_units: int = MAX_UNITS) -> np.ndarray:
    """(units, 2) float64 positions of the `units` responses an analysis reads from `layer`: the given
    positions of `unit_subset`, or the (row, col) of `sheet_for(units)`."""
    given = given_positions(model, layer)
    if given is None:
        return sheet_for(units).positions().astype(np.float64)
    chosen = given.detach().cpu().double().numpy()[unit_subset(len(given), max_units)]
    if len(chosen) != units:
        raise ValueError(f"{layer} gives {len(given)} positions, {len(chosen)} read, but {units} responses came")
    return chosen
