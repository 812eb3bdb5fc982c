"""Table 2 (A.8): Brain-Score per region of every ResNet-18 tau and of TDANN; a run the paper's table lacks
(another tau or family) is answered by its family's `tab2-other-` entry."""

from __future__ import annotations

import pandas as pd

from ..experiments import tau_label
from ..model_spec import VISION
from .format import num
from .run_tables import Measured, Tables, of

NAME = "Table 2"
PAPER_TAUS = (0, 0.5, 1, 5, 10, 20, 50)  # its ResNet-18 rows
IDS = (
    *(f"tab2-tau{tau_label(t)}-resnet18" for t in PAPER_TAUS),
    "tab2-tdann",
    *(f"tab2-other-{f}" for f in VISION if f != "tdann"),
)


def regions(tables: Tables) -> tuple[pd.DataFrame | None, list[str], str]:
    """Brain-Score's regions table, its region columns and a note naming the benchmarks behind it."""
    table = tables.get("brainscore_regions.csv")
    if table is None:
        return None, [], ""
    columns = [c for c in table.columns if c not in ("model", "tau", "seed")]
    note = f"regions measured: {', '.join(columns)}"
    if tables.has("brainscore.csv"):
        scores = pd.read_csv(tables.paths["brainscore.csv"])
        benchmarks = sorted(set(scores.metric) - set(columns))
        if benchmarks:
            note += f"; this preset's benchmarks: {', '.join(benchmarks)} (the paper's: the public ones of A.8)"
    return table, columns, note


def region_scores(runs: pd.DataFrame, columns: list[str]) -> str:
    values = runs[columns].mean()
    return f"{' / '.join(columns)}: " + " / ".join(num(values[r], 4) for r in columns)


def _id(family: str, tau: float) -> str:
    if family == "tdann":  # one published model, whatever its tau
        return "tab2-tdann"
    paper = f"tab2-tau{tau_label(tau)}-{family}"
    return paper if paper in IDS else f"tab2-other-{family}"


def measure(tables: Tables) -> list[Measured]:
    table, columns, note = regions(tables)
    if table is None:
        return []
    return [
        Measured(_id(tables.families[exp], tau), f"{exp} tau {tau_label(tau)}", region_scores(runs, columns), note)
        for exp in tables.experiments(table)
        for tau, runs in of(table, exp).groupby("tau")
    ]
