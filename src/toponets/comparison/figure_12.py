"""Figure 12: LoRA's drop in validation loss (delta) is larger for the TopoNets than for the baseline; counted
over the (tau, rank) pairs that have a baseline at the same rank."""

from __future__ import annotations

from ..model_spec import LANGUAGE
from .figure_11 import lora_runs
from .format import series
from .run_tables import Measured, Tables

NAME = "Figure 12"
IDS = tuple(f"fig12-lora-delta-{f}" for f in LANGUAGE)


def measure(tables: Tables) -> list[Measured]:
    rows = []
    for exp, dataset, runs in lora_runs(tables):
        by_rank = runs.groupby(["tau", "rank"], as_index=False).delta.mean()
        base = by_rank[by_rank.tau == 0].set_index("rank").delta
        topo = by_rank[(by_rank.tau > 0) & by_rank["rank"].isin(base.index)]
        larger = int((topo.delta.to_numpy() > base.loc[topo["rank"]].to_numpy()).sum())
        ranks = " / ".join(f"{r:g}" for r in sorted(runs["rank"].unique()))
        verdict = f"; larger than the baseline's at {larger} of {len(topo)} (tau, rank)" if len(topo) else ""
        rows.append(
            Measured(
                f"fig12-lora-delta-{tables.families[exp]}",
                f"LoRA delta, {dataset} ({exp})",
                series(exp, by_rank.groupby("tau", as_index=False).delta.mean(), "delta") + verdict,
                f"delta = val loss before - after; mean over ranks {ranks}",
            )
        )
    return rows
