"""Table 1 (§3.4): Brain-Score per region of the TopoNet-ResNet-18 nearest the paper's tau 10, and of TDANN."""

from __future__ import annotations

from ..experiments import tau_label
from .run_tables import Measured, Tables, nearest_tau, of
from .table_2 import region_scores, regions

NAME = "Table 1"
IDS = ("tab1-toponet-resnet18", "tab1-tdann")


def measure(tables: Tables) -> list[Measured]:
    table, columns, note = regions(tables)
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, "resnet18"):
        runs = of(table, exp)
        if (runs.tau > 0).any():
            tau = nearest_tau(runs.tau.unique())
            rows.append(
                Measured(
                    "tab1-toponet-resnet18",
                    f"TopoNet ({exp} tau {tau_label(tau)})",
                    region_scores(runs[runs.tau == tau], columns),
                    f"tau {tau_label(tau)} is the TopoNet nearest the paper's 10; {note}",
                )
            )
    rows += [Measured("tab1-tdann", f"TDANN ({exp})", region_scores(of(table, exp), columns), note)
             for exp in tables.experiments(table, "tdann")]
    return rows
