"""Views of the workflow's tidy tables that the derived tables, the figures and the paper comparison share.

Reshapes and means of a table already read, computed in one place so that a figure and the number the
comparison prints from the same table agree; nothing here reads or writes files.
"""

from __future__ import annotations

import pandas as pd


def wide_metrics(table: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per model x tau of a metrics table, a column per metric (mean over seeds), with the seed range
    of each metric (`<metric>_low`, `<metric>_high`: min and max over seeds) and the number of `seeds`."""
    rows = table[table.metric.isin(metrics)]
    wide = rows.pivot_table(index=["model", "tau"], columns="metric", values="value", aggfunc="mean")
    missing = set(metrics) - set(wide.columns)
    if missing:
        raise ValueError(f"metrics table lacks {sorted(missing)}; run the evaluations that produce them first")
    wide = wide[metrics].dropna()
    for bound, how in (("low", "min"), ("high", "max")):
        ranges = rows.pivot_table(index=["model", "tau"], columns="metric", values="value", aggfunc=how)[metrics]
        wide = wide.join(ranges.add_suffix(f"_{bound}"))
    wide["seeds"] = rows.groupby(["model", "tau"]).seed.nunique()
    wide.columns.name = None
    return wide.reset_index()


def mean_profiles(curves: pd.DataFrame, per_seed: bool = False) -> pd.DataFrame:
    """Mean r per model, tau and relative distance (over seeds and layers; with `per_seed`, over layers only,
    one profile per seed); empty bins dropped."""
    curve = ["model", "tau", "seed", "layer"]
    relative = curves.assign(distance=(curves.distance / curves.groupby(curve).distance.transform("max")).round(6))
    keys = ["model", "tau", *(["seed"] if per_seed else []), "distance"]
    return relative.dropna(subset=["r"]).groupby(keys, as_index=False)["r"].mean()
