"""Figure 7: response correlation falls with distance on the sheet, more steeply for TopoNets; read as r at
the nearest minus r at the farthest distance bin."""

from __future__ import annotations

from ..tidy import mean_profiles
from .format import series
from .run_tables import Measured, Tables, of

NAME = "Figure 7"
IDS = ("fig7-r-drop",)


def measure(tables: Tables) -> list[Measured]:
    curves = tables.get("smoothness_curves.csv", ("model", "tau", "seed", "layer", "distance", "r"))
    if curves is None:
        return []
    profiles = mean_profiles(curves).sort_values("distance")
    drops = profiles.groupby(["model", "tau"], as_index=False)["r"].agg(lambda r: r.iloc[0] - r.iloc[-1])
    return [
        Measured(
            "fig7-r-drop",
            f"r at nearest minus farthest distance bin ({exp})",
            series(exp, of(drops, exp), "r"),
            "mean r over layers and seeds at the nearest and farthest non-empty bins",
        )
        for exp in tables.experiments(drops)
    ]
