"""Figure 3 (§3.2): effective dimensionality correlates with smoothness, not with performance, in vision and
in language (the two correlations compared by Fisher's z, and beside it Steiger's); TDANN's dimensionality
beside the ResNets (3A)."""

from __future__ import annotations

import math

from .figure_02 import metric_rows
from .format import num
from .run_tables import Measured, Tables, performance_metrics

NAME = "Figure 3"
CORRELATIONS = {"vision": "dimensionality_correlations.csv", "language": "language_dimensionality_correlations.csv"}
IDS = (
    "fig3-effective-dim-tdann",
    *(f"fig3-{quantity}-{domain}" for domain in CORRELATIONS
      for quantity in ("dim-vs-performance", "dim-vs-smoothness", "fisher-z")),
)


def _correlations(values: dict[str, float], domain: str) -> list[Measured]:
    """The rows of one domain's dimensionality_correlations table (quantity -> value)."""
    rows = []
    n = values.get("n_models", math.nan)
    size = f" (n = {n:.0f} models)" if math.isfinite(n) else ""
    performance = next(
        (q[len("r_dim_") :] for q in values if q.startswith("r_dim_") and q != "r_dim_smoothness"), None
    )
    if performance is not None:
        rows.append(
            Measured(
                f"fig3-dim-vs-performance-{domain}",
                f"r, p: effective dim vs {performance} ({domain})",
                f"r = {num(values[f'r_dim_{performance}'])}, p = {num(values[f'p_dim_{performance}'])}{size}",
            )
        )
    if "r_dim_smoothness" in values:
        rows.append(
            Measured(
                f"fig3-dim-vs-smoothness-{domain}",
                f"r, p: effective dim vs smoothness ({domain})",
                f"r = {num(values['r_dim_smoothness'])}, p = {num(values['p_dim_smoothness'])}{size}",
            )
        )
    if "fisher_z" in values:
        rows.append(
            Measured(
                f"fig3-fisher-z-{domain}",
                f"Fisher z, p ({domain})",
                f"z = {num(values['fisher_z'])}, p = {num(values['p_fisher_z'])}",
                "the paper's test: independent-samples form",
            )
        )
    if "steiger_z" in values:
        rows.append(
            Measured(
                f"fig3-fisher-z-{domain}",
                f"Steiger z, p ({domain})",
                f"z = {num(values['steiger_z'])}, p = {num(values['p_steiger_z'])}",
                "beside the paper's: Steiger (1980) z for dependent correlations that share ED"
                + (f"; r({performance}, smoothness) = {num(values[f'r_{performance}_smoothness'])}"
                   if f"r_{performance}_smoothness" in values else ""),
            )
        )
    return rows


def measure(tables: Tables) -> list[Measured]:
    rows = []
    if tables.has("vision_metrics.csv"):  # TDANN's dimensionality, beside the ResNets (Figure 3A)
        vision = performance_metrics(tables, "vision_metrics.csv", ("effective_dim",))
        rows += metric_rows(vision, tables, tables.experiments(vision, "tdann"), "effective_dim",
                            "fig3-effective-dim", "effective dimensionality")
    for domain, name in CORRELATIONS.items():
        table = tables.get(name, ("quantity", "value"), serves=f"-{domain}")
        if table is not None:
            rows += _correlations(dict(zip(table.quantity, table.value)), domain)
    return rows
