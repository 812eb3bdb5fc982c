"""Prior models as published (TDANN, LLCNN-G, Topoformer) drawn beside this run's models.

Reads the tidy table of `tables prior-models` (figure, model, metric, value,
baseline, source; from paper_numbers.yaml). A model with both of a panel's
values is a black cross; with one, a dotted gray line at it; with none (the
paper prints it only in its plot), nothing. A `<metric>_change` is the
model's published relative change from its own baseline, drawn at this
run's tau-0 `baseline` experiment's value x (1 + change). Each mark is
labelled "<model> (as published)" so it is never read as a result of this run.
"""

from __future__ import annotations

import math

import pandas as pd

CHANGE = "_change"


def values(rows: pd.DataFrame, points: pd.DataFrame) -> dict[str, float]:
    """metric -> published value of one prior model; changes resolved against `points` (one row per model x tau)."""
    resolved = {}
    for row in rows.dropna(subset=["value"]).itertuples():
        if not row.metric.endswith(CHANGE):
            resolved[row.metric] = float(row.value)
            continue
        metric = row.metric[: -len(CHANGE)]
        base = points[(points.model == row.baseline) & (points.tau == 0)] if metric in points.columns else points[:0]
        if not base.empty:
            resolved[metric] = float(base[metric].mean()) * (1 + float(row.value))
    return resolved


def draw(ax, published: pd.DataFrame | None, figure: str, x: str, y: str, points: pd.DataFrame) -> None:
    """Mark on `ax` (axes `x`, `y`) the prior models of paper figure `figure` (e.g. "2A") whose values are printed."""
    if published is None:
        return
    for model, rows in published[published.figure.astype(str) == figure].groupby("model", sort=False):
        known = values(rows, points)
        vx, vy = known.get(x, math.nan), known.get(y, math.nan)
        label = f"{model} (as published)"
        if math.isfinite(vx) and math.isfinite(vy):
            ax.scatter([vx], [vy], marker="X", s=90, color="black", zorder=5)
            ax.annotate(label, (vx, vy), xytext=(5, 5), textcoords="offset points", fontsize=7)
        elif math.isfinite(vx):
            ax.axvline(vx, color="0.45", ls=":", lw=1.2, zorder=0)
            ax.text(vx, 0.98, f" {label}", transform=ax.get_xaxis_transform(), rotation=90, va="top", fontsize=7)
        elif math.isfinite(vy):
            ax.axhline(vy, color="0.45", ls=":", lw=1.2, zorder=0)
            ax.text(0.01, vy, label, transform=ax.get_yaxis_transform(), va="bottom", fontsize=7)
