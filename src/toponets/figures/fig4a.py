"""Figure 4A: change in top-1 accuracy as the topographic layers are L1-pruned.

Reads the tidy pruning table (model, tau, seed, fraction, metric, value,
change); one line per tau (mean over seeds), one panel per experiment.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns

from . import style


def plot(curves: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.setup()
    grid = sns.relplot(
        data=curves, x="fraction", y="change", hue="tau", col="model", kind="line", marker="o", errorbar=None,
        palette=style.TAU_PALETTE, hue_norm=style.tau_norm(curves["tau"]), height=3.2, aspect=1.1,
    )
    grid.set_axis_labels("Fraction of weights pruned (L1, per layer)", "Change in top-1 accuracy")
    grid.set_titles("{col_name}")
    for ax in grid.axes.flat:
        ax.axhline(0, color="0.7", lw=0.8, zorder=0)
    style.save(grid.figure, outputs)
