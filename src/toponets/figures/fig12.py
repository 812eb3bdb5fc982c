"""Figure 12: the improvement Δ in validation loss from LoRA fine-tuning, by model, rank and data set.

Reads the tidy LoRA deltas table (model, tau, dataset, rank, delta, with
delta = validation loss before - after fine-tuning, so higher is a larger
improvement; see `toponets.tables.lora_delta_table`). One panel per data
set (a row of them per model, when the table holds several experiments);
bars by LoRA rank, one per tau (baseline black), the mean over any further
run column such as seed, with the seed range.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from . import style
from .fig11 import require

COLUMNS = ("model", "tau", "dataset", "rank", "delta")


def draw(deltas: pd.DataFrame) -> Figure:
    require(deltas, COLUMNS, "LoRA deltas")
    table = deltas.assign(rank=deltas["rank"].astype(int))
    style.setup()
    grid = sns.catplot(
        data=table, x="rank", y="delta", hue="tau", col="dataset", row="model" if table.model.nunique() > 1 else None,
        kind="bar", errorbar=style.SEED_RANGE, palette=style.tau_palette(table["tau"]), height=3.0, aspect=1.0, sharey=False,
    )
    grid.set_axis_labels("LoRA rank", "Δ validation loss (before − after, nats)")
    grid.set_titles("{col_name}" if table.model.nunique() == 1 else "{row_name} · {col_name}")
    for ax in grid.axes.flat:
        ax.axhline(0, color="0.7", lw=0.8, zorder=0)
    return grid.figure


def plot(deltas: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.save(draw(deltas), outputs)
