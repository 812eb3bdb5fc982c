"""Figure 3: performance and topography vs effective dimensionality, with Pearson r and p.

Reads the tidy metrics table (metrics effective_dim, smoothness and the
performance metric); one point per model x tau (mean over seeds). As in the
paper, performance (left) and smoothness (right) are on the x-axis and the
effective dimensionality, shared, on the y-axis. Figure 9 is the same drawing
for the language models with perplexity as the performance. TDANN is marked
"as published" in Figure 3A where the paper prints its values (figures/published.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns

from ..analysis.statistics import pearson
from ..tidy import wide_metrics
from . import published as prior
from . import style


def plot(
    table: pd.DataFrame, outputs: list[str | Path], performance: str = "top1", label: str = "Top-1 accuracy",
    published: pd.DataFrame | None = None, figure: str = "3A",
) -> None:
    """Draw effective dimensionality against `performance` (axis label `label`) and against smoothness, with
    the prior models of paper figure `figure` as published."""
    points = wide_metrics(table, [performance, "smoothness", "effective_dim"])
    style.setup()
    fig, axes = style.plt.subplots(1, 2, figsize=(10, 3.8), sharey=True, layout="constrained")
    for ax, (column, xlabel) in zip(axes, [(performance, label), ("smoothness", "Topography (smoothness)")]):
        sns.scatterplot(data=points, x=column, y="effective_dim", hue="tau", style="model", s=70, ax=ax,
                        palette=style.tau_palette(points["tau"]), legend=ax is axes[-1])
        style.seed_ranges(ax, points, column, "effective_dim")
        prior.draw(ax, published, figure, column, "effective_dim", points)
        r, p = pearson(points[column], points["effective_dim"])
        ax.set(xlabel=xlabel, ylabel="Effective dimensionality", title=f"r = {r:.2f}, p = {p:.3g}")
    axes[-1].legend(frameon=False, fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    style.save(fig, outputs)


def plot_perplexity(table: pd.DataFrame, outputs: list[str | Path]) -> None:
    """Figure 9: the language models, whose performance is their perplexity on one common held-out corpus (A.9)."""
    plot(table, outputs, performance="perplexity", label="Perplexity, common held-out corpus (lower is better)")
