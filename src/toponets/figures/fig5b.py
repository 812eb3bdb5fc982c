"""Figures 5B and 8: temporal integration window parameters mapped on the cortical sheet.

Reads the tidy per-unit table of the integration-window CLI with the run
columns in front (model, tau, seed, layer, unit, row, col, a, b, c[,
yoking]). The paper colours the power-law component red and the exponential
green without saying which numbers (METHODS §5.3); here the power-law weight
c is drawn in reds on its full range [0, 1] and the exponential rate b in
greens from 0 to its 99th percentile over the panels drawn (so a few units at
the fit bound of 10 do not wash the maps out); the sentence-yoking index
(Skrill & Norman-Haignere's structure yoking, where the table has it) in a
diverging map symmetric about 0 at the 99th percentile of its magnitude; one
colour bar each below the maps. Units whose fit failed are grey.

Figure 5B, as the paper draws it ("power-law (red), exponential (green), and
sentence-yoked coefficients across layers (from left to right)"): for each
model the TopoNet of the largest tau, every layer a column, a row per
quantity. Figure 8 (A.7: "the Power Law and the Exponential parameter
estimates"): every layer (columns) of every tau of every model, a c row and
a b row each. Both show the first seed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from . import style

# parameter -> (colour-bar label, colour map)
QUANTITIES = {
    "c": ("Power-law weight c", "Reds"),
    "b": ("Exponential rate b", "Greens"),
    "yoking": ("Sentence-yoking index", "PuOr_r"),
}
MISSING = "0.8"  # units whose fit failed


def block_order(layer: str) -> tuple[int, ...]:
    """Sort key of a layer name by its numbers, so that h.2 comes before h.10."""
    return tuple(int(n) for n in re.findall(r"\d+", layer))


def sheet_map(units: pd.DataFrame, value: str) -> np.ndarray:
    """(rows, cols) array of `value` at each unit's (row, col); NaN where no unit or no value."""
    grid = np.full((int(units.row.max()) + 1, int(units.col.max()) + 1), np.nan)
    grid[units.row.to_numpy(int), units.col.to_numpy(int)] = units[value].to_numpy(float)
    return grid


def first_seed(units: pd.DataFrame) -> pd.DataFrame:
    """The rows of each model's lowest seed."""
    return units[units.seed == units.groupby("model").seed.transform("min")]


def run_label(model: str, tau: float) -> str:
    return f"{model} baseline" if tau == 0 else f"{model} τ={tau:g}"


def quantities(units: pd.DataFrame) -> list[str]:
    """The quantities the table holds, in drawing order (c and b always; yoking where measured)."""
    return [q for q in QUANTITIES if q in ("c", "b") or (q in units and units[q].notna().any())]


def _top(values: pd.Series) -> float:
    """99th percentile of finite `values` (1.0 when none), at least 1e-6."""
    values = values.to_numpy(float)
    return max(float(np.nanpercentile(values, 99)) if np.isfinite(values).any() else 1.0, 1e-6)


def colour_ranges(units: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Colour range of each quantity: c on [0, 1]; b from 0 to its 99th percentile; yoking +-99th pct of |.|."""
    ranges = {"c": (0.0, 1.0), "b": (0.0, _top(units.b))}
    if "yoking" in units:
        top = _top(units.yoking.abs())
        ranges["yoking"] = (-top, top)
    return ranges


def draw_map(ax, grid: np.ndarray, quantity: str, limits: tuple[float, float]):
    cmap = plt.get_cmap(QUANTITIES[quantity][1]).with_extremes(bad=MISSING)
    image = ax.imshow(grid, cmap=cmap, vmin=limits[0], vmax=limits[1], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def map_grid(panels: list[list[tuple[pd.DataFrame, str]]], row_labels: list[str], col_labels: list[str],
             limits: dict[str, tuple[float, float]]) -> Figure:
    """A grid of sheet maps; `panels[i][j]` is (that panel's units, quantity); a colour bar per quantity below.

    An empty panel (a model without that layer) is left blank.
    """
    rows, cols = len(panels), len(panels[0])
    fig = plt.figure(figsize=(1.9 * cols + 0.8, 1.3 * rows + 0.9))
    outer = fig.add_gridspec(2, 1, height_ratios=[1.3 * rows, 0.5], hspace=0.25)
    axes = outer[0].subgridspec(rows, cols, hspace=0.3, wspace=0.1).subplots(squeeze=False)
    images = {}
    for i, row in enumerate(panels):
        for j, (units, quantity) in enumerate(row):
            if units.empty:
                axes[i, j].axis("off")
                continue
            images[quantity] = draw_map(axes[i, j], sheet_map(units, quantity), quantity, limits[quantity])
        axes[i, 0].set_ylabel(row_labels[i], fontsize=7)
    for j, label in enumerate(col_labels):
        axes[0, j].set_title(label, fontsize=8)
    bars = outer[1].subgridspec(1, len(images), wspace=0.5)
    for k, (quantity, image) in enumerate(images.items()):
        fig.colorbar(image, cax=fig.add_subplot(bars[0, k]), orientation="horizontal", label=QUANTITIES[quantity][0])
    return fig


def runs(units: pd.DataFrame) -> list[tuple[str, float]]:
    return sorted(units[["model", "tau"]].drop_duplicates().itertuples(index=False, name=None))


def _layer_panels(run: pd.DataFrame, layers: list[str], names: list[str], label: str):
    """One row per quantity of `run`, a column per layer, with its row labels."""
    return [[(run[run.layer == layer], q) for layer in layers] for q in names], [f"{label}\n{q}" for q in names]


def draw_layers(units: pd.DataFrame) -> Figure:
    """Figure 5B: every layer of each model's largest-tau TopoNet, a row per quantity (c, b, yoking)."""
    units = first_seed(units)
    top = units[units.tau == units.groupby("model").tau.transform("max")]
    layers = sorted(top.layer.unique(), key=block_order)
    names = quantities(top)
    panels, labels = [], []
    for model, tau in runs(top):
        rows, row_labels = _layer_panels(top[top.model == model], layers, names, run_label(model, tau))
        panels += rows
        labels += row_labels
    return map_grid(panels, labels, [f"block {block_order(layer)[0]}" for layer in layers], colour_ranges(top))


def draw_all_layers(units: pd.DataFrame) -> Figure:
    """Figure 8: every layer (columns) of every run, a c row and a b row per run (A.7: "the Power Law and the
    Exponential parameter estimates")."""
    units = first_seed(units)
    layers = sorted(units.layer.unique(), key=block_order)
    names = ["c", "b"]
    panels, labels = [], []
    for model, tau in runs(units):
        rows, row_labels = _layer_panels(units[(units.model == model) & (units.tau == tau)], layers, names,
                                         run_label(model, tau))
        panels += rows
        labels += row_labels
    return map_grid(panels, labels, [f"block {block_order(layer)[0]}" for layer in layers], colour_ranges(units))


def plot(units: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.setup()
    style.save(draw_layers(units), outputs)


def plot_all_layers(units: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.setup()
    style.save(draw_all_layers(units), outputs)
