"""Figure 2A: topography (smoothness) vs ImageNet top-1 accuracy, with the Pareto front.

Reads the tidy metrics table (columns model, tau, seed, metric, value) with
the metrics `top1` and `smoothness`; one point per model x tau (mean over
seeds), colour = tau, marker = experiment. Each experiment's Pareto front
(dashed) joins its runs that no other of its runs beats on both axes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from ..tables import wide_metrics
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


def plot(table: pd.DataFrame, outputs: list[str | Path], performance: str = "top1", ylabel: str = "Top-1 accuracy") -> None:
    points = wide_metrics(table, [performance, "smoothness"])
    style.setup()
    fig, ax = style.plt.subplots(figsize=(5, 4))
    for i, (_, runs) in enumerate(points.groupby("model")):  # the paper draws one front per model family
        front = runs.iloc[pareto_front(runs["smoothness"].to_numpy(), runs[performance].to_numpy())]
        ax.plot(front["smoothness"], front[performance], color="k", lw=1, ls="--", zorder=0,
                label="Pareto front" if i == 0 else None)
    sns.scatterplot(
        data=points, x="smoothness", y=performance, hue="tau", style="model", palette=style.TAU_PALETTE,
        s=70, ax=ax, hue_norm=style.tau_norm(points["tau"]),
    )
    ax.set(xlabel="Topography (smoothness)", ylabel=ylabel, title="Topography vs performance")
    ax.legend(frameon=False, fontsize=8, loc="best")
    style.save(fig, outputs)

