"""Figure 4B (and 10): change in performance as the topographic layers are downsampled.

Reads the tidy downsampling table (model, tau, seed, factor, parameters,
parameters_kept, metric, value, change) of the language models, metrics
`val_loss` (an increase is worse) and `blimp` (a decrease is worse). One
line per tau (mean over seeds, band: the seed range; baseline black), one panel per model and
metric; x is the percentage of the original model's parameters kept, and the
top axis reads it in millions of parameters (e.g. GPT-Neo's 125.2M -> 102.3M
at factor 5). Figure 10 is the same drawing for the NanoGPT experiments
(the CLI's --models).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import style
from .fig4a import change_grid


def parameter_axis(ax: Axes, rows: pd.DataFrame) -> None:
    """Top axis in millions of parameters: the percentage kept times the original model's size."""
    per_percent = (rows.parameters / rows.parameters_kept).median() / 1e6 / 100
    top = ax.secondary_xaxis("top", functions=(lambda pct: pct * per_percent, lambda m: m / per_percent))
    top.set_xlabel("Parameters (millions)")


def draw(curves: pd.DataFrame) -> Figure:
    kept = curves.assign(percent_kept=100 * curves.parameters_kept)
    return change_grid(kept, "percent_kept", "Parameters kept (% of the original model)", parameter_axis).figure


def plot(curves: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.save(draw(curves), outputs)
