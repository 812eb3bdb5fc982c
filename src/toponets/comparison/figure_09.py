"""Figure 9: GPT-Neo's effective dimensionality falls as perplexity rises with tau; the correlation is taken
over the runs with tau >= 5, where the paper says so."""

from __future__ import annotations

import math

from ..analysis.statistics import pearson
from .format import num, series
from .run_tables import Measured, Tables, of, performance_metrics

NAME = "Figure 9"
IDS = ("fig9-effective-dim-gpt_neo", "fig9-perplexity-gpt_neo", "fig9-r-dim-perplexity-gpt_neo")


def measure(tables: Tables) -> list[Measured]:
    wide = performance_metrics(tables, "language_metrics.csv", ("effective_dim", "perplexity"))
    if wide is None:
        return []
    rows = []
    for exp in tables.experiments(wide.dropna(), "gpt_neo"):
        runs = of(wide, exp).dropna()
        rows.append(
            Measured(
                "fig9-effective-dim-gpt_neo",
                f"effective dimensionality ({exp})",
                series(exp, runs, "effective_dim"),
            )
        )
        rows.append(Measured("fig9-perplexity-gpt_neo", f"perplexity ({exp})", series(exp, runs, "perplexity"),
                             "on the common held-out corpus (evaluation.lm_loss.corpus; paper: OpenWebText)"))
        high = runs[runs.tau >= 5]
        r, p = pearson(high.effective_dim, high.perplexity)
        rows.append(
            Measured(
                "fig9-r-dim-perplexity-gpt_neo",
                f"r effective dimensionality vs perplexity, tau >= 5 ({exp})",
                f"r = {num(r)}, p = {num(p)} (n = {len(high)})"
                if math.isfinite(r)
                else f"n/a: needs 3 runs with tau >= 5 that differ, has {len(high)}",
            )
        )
    return rows
