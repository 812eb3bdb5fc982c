"""Figure 2A: topography (smoothness) vs ImageNet top-1 accuracy, with the Pareto front.

Reads the tidy metrics table (columns model, tau, seed, metric, value) with
the metrics `top1` and `smoothness`; one point per model x tau (mean over
seeds), colour = tau, marker = experiment. The Pareto front joins the runs
that no other run beats on both axes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import SymLogNorm

from . import style


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (x, y), both maximised, ordered by x."""
    order = np.lexsort((-np.asarray(y), -np.asarray(x)))  # x descending, ties by y descending
    front, best_y = [], -np.inf
    for i in order:
        if y[i] > best_y:
            front.append(i)
            best_y = y[i]
    return np.array(front[::-1], dtype=int)


def topography_vs_performance(table: pd.DataFrame, performance: str, topography: str = "smoothness") -> pd.DataFrame:
    """One row per model x tau: mean over seeds of the two metrics."""
    wide = table[table.metric.isin([performance, topography])].pivot_table(
        index=["model", "tau"], columns="metric", values="value", aggfunc="mean"
    )
    missing = {performance, topography} - set(wide.columns)
    if missing:
        raise ValueError(f"metrics table lacks {sorted(missing)}; run the evaluations that produce them first")
    return wide.reset_index().dropna()


def plot(table: pd.DataFrame, outputs: list[str | Path], performance: str = "top1", ylabel: str = "Top-1 accuracy") -> None:
    points = topography_vs_performance(table, performance)
    style.setup()
    fig, ax = style.plt.subplots(figsize=(5, 4))
    front = points.iloc[pareto_front(points["smoothness"].to_numpy(), points[performance].to_numpy())]
    ax.plot(front["smoothness"], front[performance], color="0.6", lw=1, ls="--", zorder=0, label="Pareto front")
    sns.scatterplot(
        data=points, x="smoothness", y=performance, hue="tau", style="model", palette=style.TAU_PALETTE,
        s=70, ax=ax, hue_norm=_tau_norm(points["tau"]),
    )
    ax.set(xlabel="Topography (smoothness)", ylabel=ylabel, title="Topography vs performance")
    ax.legend(frameon=False, fontsize=8, loc="best")
    style.save(fig, outputs)


def _tau_norm(taus: pd.Series):
    """Colour scale that separates small taus: symmetric log around 0."""
    return SymLogNorm(linthresh=0.5, vmin=0, vmax=max(float(taus.max()), 1.0))
