"""Figure 6: NanoGPT's BLiMP by training-token budget; the TopoNets' drop from the baseline does not grow
with the budget."""

from __future__ import annotations

from .format import count, series, signed
from .run_tables import Measured, Tables, per_run

NAME = "Figure 6"
IDS = ("fig6-blimp-by-tokens-nanogpt", "fig6-blimp-change-by-tokens-nanogpt")


def measure(tables: Tables) -> list[Measured]:
    training = tables.get("training.csv", ("model", "tau", "metric", "value"))
    language = tables.get("language_metrics.csv", ("model", "tau", "metric", "value"))
    if training is None or language is None:
        return []
    runs = (
        per_run(training, "tokens")
        .drop(columns="spread")
        .rename(columns={"value": "tokens"})
        .merge(per_run(language, "blimp"), on=["model", "tau"])
    )
    runs = runs[runs.model.isin(tables.experiments(runs, "nanogpt"))]
    if runs.empty:
        return []
    rows, changes = [], []
    for tokens, budget in runs.groupby("tokens"):
        names = " + ".join(dict.fromkeys(budget.model))
        rows.append(
            Measured(
                "fig6-blimp-by-tokens-nanogpt",
                f"BLiMP at {count(tokens)} training tokens ({names})",
                series(names, budget),
            )
        )
        base = budget[budget.tau == 0]
        topo = budget[budget.tau > 0]
        if not base.empty and not topo.empty:
            changes.append(f"{signed(topo.value.mean() - base.value.mean())} at {count(tokens)}")
    if changes:
        rows.append(
            Measured(
                "fig6-blimp-change-by-tokens-nanogpt",
                "BLiMP change from baseline by training tokens",
                " / ".join(changes) + " tokens",
                "mean over the TopoNets (tau > 0) of the change from tau 0 at the same token budget",
            )
        )
    return rows
