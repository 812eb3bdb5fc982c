"""Figure 3: effective dimensionality vs performance and vs topography, with Pearson r and p.

Reads the tidy metrics table (metrics effective_dim, smoothness and the
performance metric); one point per model x tau (mean over seeds).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns

from ..analysis.statistics import pearson
from ..tables import wide_metrics
from . import style


def plot(table: pd.DataFrame, outputs: list[str | Path], performance: str = "top1", label: str = "Top-1 accuracy") -> None:
    points = wide_metrics(table, [performance, "smoothness", "effective_dim"])
    style.setup()
    fig, axes = style.plt.subplots(1, 2, figsize=(10, 3.8), sharex=True, layout="constrained")
    for ax, (column, ylabel) in zip(axes, [(performance, label), ("smoothness", "Topography (smoothness)")]):
        sns.scatterplot(data=points, x="effective_dim", y=column, hue="tau", style="model", s=70, ax=ax,
                        palette=style.TAU_PALETTE, hue_norm=style.tau_norm(points["tau"]), legend=ax is axes[-1])
        r, p = pearson(points["effective_dim"], points[column])
        ax.set(xlabel="Effective dimensionality", ylabel=ylabel, title=f"r = {r:.2f}, p = {p:.3g}")
    axes[-1].legend(frameon=False, fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    style.save(fig, outputs)
