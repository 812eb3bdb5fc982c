"""Figure 4A: change in performance as the topographic layers are L1-pruned.

Reads the tidy pruning table (model, tau, seed, fraction, metric, value,
change): metric `top1` for vision models (a drop is negative) and `val_loss`
for language models (an increase, positive, is worse). One line per tau (mean
over seeds, band: the seed range; baseline black), one panel per experiment, each y-axis named after
its metric. `change_grid` is shared with Figure 4B.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import style

CHANGE_LABELS = {
    "top1": "Change in top-1 accuracy",
    "val_loss": "Change in validation loss (nats)",
    "blimp": "Change in BLiMP accuracy",
}


def change_grid(
    curves: pd.DataFrame, x: str, xlabel: str, annotate: Callable[[Axes, pd.DataFrame], None] | None = None,
) -> sns.FacetGrid:
    """Mean `change` along `x` (band: the seed range), a line per tau and a panel per model and metric (titled by the model,
    y-axis by the metric: they differ in scale and sign); `annotate(ax, rows)` may add to each panel."""
    panels = curves.assign(panel=curves.model + " · " + curves.metric)
    style.setup()
    grid = sns.relplot(
        data=panels, x=x, y="change", hue="tau", col="panel", col_wrap=min(4, panels.panel.nunique()), kind="line", marker="o", errorbar=style.SEED_RANGE,
        palette=style.tau_palette(curves["tau"]), height=3.2, aspect=1.1, facet_kws={"sharey": False},
    )
    grid.set_xlabels(xlabel)
    for panel, ax in grid.axes_dict.items():
        rows = panels[panels.panel == panel]
        model, metric = rows.model.iloc[0], rows.metric.iloc[0]
        ax.set(title=model, ylabel=CHANGE_LABELS.get(metric, f"Change in {metric}"))
        ax.axhline(0, color="0.7", lw=0.8, zorder=0)  # the unchanged model
        if annotate:
            annotate(ax, rows)
    grid.tight_layout()  # room for each panel's own y labels
    return grid


def draw(curves: pd.DataFrame) -> Figure:
    return change_grid(curves, "fraction", "Fraction of weights pruned (L1, per layer)").figure


def plot(curves: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.save(draw(curves), outputs)
