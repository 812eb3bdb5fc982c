"""Figures 5B and 8: temporal integration window parameters mapped on the cortical sheet.

Reads the tidy per-unit table of the integration-window CLI with the run
columns in front (model, tau, seed, layer, unit, row, col, a, b, c). The
paper colours the power-law component red and the exponential green without
saying which numbers (METHODS §5.3); here the power-law weight c is drawn in
reds on its full range [0, 1] and the exponential rate b in greens from 0 to
its 99th percentile over the panels drawn (so a few units at the fit bound
of 10 do not wash the maps out), one colour bar each below the maps. Units
whose fit failed are grey.

Figure 5B: one layer (the middle block), per model the baseline (tau 0) and
the TopoNet of the largest tau, c and b side by side. Figure 8: every layer
(columns) of every tau of every model (a c row and a b row each). Both show
the first seed.
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
QUANTITIES = {"c": ("Power-law weight c", "Reds"), "b": ("Exponential rate b", "Greens")}
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


def colour_ranges(units: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Colour range of each quantity: c on [0, 1]; b from 0 to its 99th percentile (at least 1e-6)."""
    b = units.b.to_numpy(float)
    top = float(np.nanpercentile(b, 99)) if np.isfinite(b).any() else 1.0
    return {"c": (0.0, 1.0), "b": (0.0, max(top, 1e-6))}


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


def draw_layer(units: pd.DataFrame) -> Figure:
    """Figure 5B: the middle layer of each model, baseline and largest-tau TopoNet, c and b maps."""
    units = first_seed(units)
    shown = []
    for model, per_model in units.groupby("model", sort=True):
        layers = sorted(per_model.layer.unique(), key=block_order)
        middle = per_model[per_model.layer == layers[len(layers) // 2]]
        taus = sorted({0.0, middle.tau.max()} & set(middle.tau))
        shown += [(model, tau, middle[middle.tau == tau]) for tau in taus]
    limits = colour_ranges(pd.concat([rows for _, _, rows in shown]))
    panels = [[(rows, q) for q in QUANTITIES] for _, _, rows in shown]
    labels = [f"{run_label(model, tau)}\nblock {block_order(rows.layer.iloc[0])[0]}" for model, tau, rows in shown]
    return map_grid(panels, labels, [QUANTITIES[q][0] for q in QUANTITIES], limits)


def draw_all_layers(units: pd.DataFrame) -> Figure:
    """Figure 8: every layer (columns) of every run, a c row and a b row per run."""
    units = first_seed(units)
    layers = sorted(units.layer.unique(), key=block_order)
    limits = colour_ranges(units)
    panels, labels = [], []
    for model, tau in runs(units):
        run = units[(units.model == model) & (units.tau == tau)]
        for quantity in QUANTITIES:
            panels.append([(run[run.layer == layer], quantity) for layer in layers])
            labels.append(f"{run_label(model, tau)}\n{quantity}")
    return map_grid(panels, labels, [f"block {block_order(layer)[0]}" for layer in layers], limits)


def plot(units: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.setup()
    style.save(draw_layer(units), outputs)


def plot_all_layers(units: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.setup()
    style.save(draw_all_layers(units), outputs)
