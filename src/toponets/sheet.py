"""The 2-D "cortical sheet" on which a layer's output units are laid out.

Geometry follows the authors' `topoloss` package (METHODS §1.1-1.2): the
sheet height is the largest divisor of the unit count not above its square
root, the width is count / height, and unit ``k`` sits at row ``k // width``,
column ``k % width`` (row-major).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Sheet:
    """Height and width of a cortical sheet (height <= width)."""

    height: int
    width: int

    @property
    def units(self) -> int:
        return self.height * self.width

    def positions(self) -> np.ndarray:
        """(units, 2) array of each unit's (row, col), in unit order."""
        k = np.arange(self.units)
        return np.stack([k // self.width, k % self.width], axis=1)

    def pairwise_distances(self) -> np.ndarray:
        """Condensed Euclidean distances between all unit pairs (scipy `pdist` order)."""
        from scipy.spatial.distance import pdist  # scipy.spatial costs ~1 s to import; most jobs never need it

        return pdist(self.positions().astype(np.float64))

    def to_map(self, values: np.ndarray) -> np.ndarray:
        """Place one value per unit on the sheet: (units,) -> (height, width)."""
        values = np.asarray(values)
        if values.shape[0] != self.units:
            raise ValueError(f"expected {self.units} unit values for a {self.height}x{self.width} sheet, got {values.shape[0]}")
        return values.reshape(self.height, self.width, *values.shape[1:])


def sheet_for(units: int) -> Sheet:
    """The sheet the authors' code assigns to `units` output units."""
    if units < 1:
        raise ValueError(f"a cortical sheet needs at least one unit, got {units}")
    height = math.isqrt(units)
    while units % height:
        height -= 1
    return Sheet(height=height, width=units // height)


def output_units(layer: torch.nn.Module) -> int:
    """Number of output units (channels or features) of a Linear or Conv2d layer."""
    return layer.weight.shape[0]
