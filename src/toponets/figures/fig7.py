"""Figure 7: correlation of unit responses vs distance on the cortical sheet.

Reads the tidy curves table (model, tau, seed, layer, distance, r, pairs).
One panel per experiment; one line per tau: the mean over seeds and
topographic layers of the binned Pearson r at each distance bin (band: the
range of the seeds' means over layers). Layers have
sheets of different sizes but the same number of equal-width bins, so the
x-axis is the bin centre as a fraction of the layer's largest one: bins line
up across layers, except the far bins that small sheets join (too few pairs,
see analysis/smoothness.py), which add points of their own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns

from ..tidy import mean_profiles
from . import style


def plot(curves: pd.DataFrame, outputs: list[str | Path]) -> None:
    profiles = mean_profiles(curves, per_seed=True)
    style.setup()
    grid = sns.relplot(
        data=profiles, x="distance", y="r", hue="tau", col="model", kind="line", marker="o", errorbar=style.SEED_RANGE,
        palette=style.tau_palette(profiles["tau"]), height=3.2, aspect=1.1,
        facet_kws={"sharex": False},
    )
    grid.set_axis_labels("", "Response correlation (Pearson r)")
    grid.figure.supxlabel("Distance on the cortical sheet (fraction of the largest distance bin)", y=-0.02)
    grid.set_titles("{col_name}")
    for ax in grid.axes.flat:
        ax.axhline(0, color="0.7", lw=0.8, zorder=0)
    style.save(grid.figure, outputs)
