"""Figure 6: BLiMP accuracy of NanoGPT TopoNets against the number of training tokens, per tau.

Reads a tidy metrics table (model, tau, seed, metric, value) holding each
run's `tokens` (from the training table) and `blimp` (from the language
metrics table). One line per tau across the token budgets (mean over seeds,
bars: the seed range; baseline black); the paper's point is whether the gap to the baseline grows
with the data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns

from ..tidy import wide_metrics
from . import style


def plot(table: pd.DataFrame, outputs: list[str | Path]) -> None:
    points = wide_metrics(table, ["tokens", "blimp"])
    style.setup()
    fig, ax = style.plt.subplots(figsize=(5, 4))
    sns.lineplot(data=points, x="tokens", y="blimp", hue="tau", palette=style.tau_palette(points["tau"]),
                 marker="o", ax=ax)
    style.seed_ranges(ax, points, "tokens", "blimp")
    ax.set_xscale("log")
    ax.set(xlabel="Training tokens", ylabel="BLiMP accuracy (fraction of pairs)",
           title="Training tokens vs BLiMP, per tau")
    ax.legend(title="tau", frameon=False, fontsize=8)
    style.save(fig, outputs)
