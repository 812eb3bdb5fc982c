"""Figure 8: GPT-Neo's integration windows by layer, early layers exponential (low c), mid layers power-law
(high c); read as the median c and b over units, per layer and tau."""

from __future__ import annotations

from ..experiments import tau_label
from .format import num
from .run_tables import Measured, Tables, of

NAME = "Figure 8"
PARAMETERS = ("c", "b")
IDS = tuple(f"fig8-median-{p}-gpt_neo" for p in PARAMETERS)


def measure(tables: Tables) -> list[Measured]:
    units = tables.get("integration_window_units.csv", ("model", "tau", "layer", "b", "c"))
    if units is None:
        return []
    rows = []
    for exp in tables.experiments(units, "gpt_neo"):
        runs = of(units, exp)
        layers = list(dict.fromkeys(runs.layer))
        for parameter in PARAMETERS:
            for tau, run in runs.groupby("tau"):
                medians = run.groupby("layer")[parameter].median().reindex(layers)
                rows.append(
                    Measured(
                        f"fig8-median-{parameter}-gpt_neo",
                        f"median {parameter} by layer ({exp} tau {tau_label(tau)})",
                        f"layers 0-{len(layers) - 1}: " + " / ".join(num(v) for v in medians),
                        "layers in network order; median over units (and seeds)",
                    )
                )
    return rows
