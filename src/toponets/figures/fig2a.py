"""Figure 2: topography (smoothness) vs performance, with the Pareto front.

Reads the tidy metrics table (columns model, tau, seed, metric, value) with
`smoothness` and the performance metric: `top1` (ImageNet accuracy, Figure
2A) or `blimp` (BLiMP accuracy of the language models, Figure 2B). One point
per model x tau (mean over seeds; bars: the seed range), colour = tau (baseline black), marker =
experiment. Each experiment's Pareto front (dashed) joins its runs that no
other of its runs beats on both axes. Prior models (2A: TDANN, LLCNN-G; 2B:
Topoformer) are marked "as published" where the paper prints their values
(figures/published.py). A run with a smoothness but no performance value
(TDANN: self-supervised, no classifier) is a dashed vertical line at its
smoothness, labelled as this run's, as the paper draws TDANN's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from ..tidy import wide_metrics
from . import published as prior
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


def smoothness_only(table: pd.DataFrame, performance: str) -> pd.DataFrame:
    """model, tau and smoothness (mean over seeds) of the runs with a smoothness but no `performance` value."""
    runs = table[table.metric.isin([performance, "smoothness"])].pivot_table(
        index=["model", "tau"], columns="metric", values="value", aggfunc="mean"
    ).reindex(columns=[performance, "smoothness"]).reset_index()
    return runs[runs[performance].isna() & runs["smoothness"].notna()][["model", "tau", "smoothness"]]


def plot(
    table: pd.DataFrame, outputs: list[str | Path], performance: str = "top1", ylabel: str = "Top-1 accuracy",
    published: pd.DataFrame | None = None, figure: str = "2A",
) -> None:
    """Draw smoothness vs `performance` (higher is better, so the Pareto front maximises both), with the prior
    models of paper figure `figure` as published."""
    points = wide_metrics(table, [performance, "smoothness"])
    style.setup()
    fig, ax = style.plt.subplots(figsize=(5, 4))
    for i, (_, runs) in enumerate(points.groupby("model")):  # the paper draws one front per model family
        front = runs.iloc[pareto_front(runs["smoothness"].to_numpy(), runs[performance].to_numpy())]
        ax.plot(front["smoothness"], front[performance], color="k", lw=1, ls="--", zorder=0,
                label="Pareto front" if i == 0 else None)
    sns.scatterplot(
        data=points, x="smoothness", y=performance, hue="tau", style="model",
        palette=style.tau_palette(points["tau"]), s=70, ax=ax,
    )
    style.seed_ranges(ax, points, "smoothness", performance)
    prior.draw(ax, published, figure, "smoothness", performance, points)
    for row in smoothness_only(table, performance).itertuples():
        ax.axvline(row.smoothness, color="k", ls="--", lw=1, zorder=0)
        ax.text(row.smoothness, 0.02, f" {row.model} (this run; no {performance})", transform=ax.get_xaxis_transform(),
                rotation=90, va="bottom", fontsize=7)
    ax.set(xlabel="Topography (smoothness)", ylabel=ylabel, title="Topography vs performance")
    ax.legend(frameon=False, fontsize=8, loc="best")
    style.save(fig, outputs)


def plot_blimp(table: pd.DataFrame, outputs: list[str | Path], published: pd.DataFrame | None = None) -> None:
    """Figure 2B: the language models, whose performance is their BLiMP accuracy."""
    plot(table, outputs, performance="blimp", ylabel="BLiMP accuracy (fraction of pairs)", published=published,
         figure="2B")
