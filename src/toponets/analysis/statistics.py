"""Statistics of section 3.2: how effective dimensionality relates to performance and to topography.

Across models (one point per model x tau), Pearson r of dimensionality with
performance and with smoothness, and the Fisher z test of whether the two
correlations differ (independent-samples form, two-sided).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def pearson(x, y) -> tuple[float, float]:
    """Pearson r and its two-sided p-value; NaN for fewer than 3 points or a constant input."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    result = stats.pearsonr(x, y)
    return float(result.statistic), float(result.pvalue)


def fisher_z_difference(r1: float, n1: int, r2: float, n2: int) -> tuple[float, float]:
    """z statistic and two-sided p-value for H0: rho1 == rho2 (Fisher's r-to-z, independent samples)."""
    if min(n1, n2) <= 3:
        return math.nan, math.nan
    fisher = np.arctanh(np.clip([r1, r2], -1 + 1e-15, 1 - 1e-15))  # |r| = 1 stays finite
    z = float(fisher[0] - fisher[1]) / math.sqrt(1 / (n1 - 3) + 1 / (n2 - 3))
    return z, float(2 * stats.norm.sf(abs(z)))


def dimensionality_correlations(wide: pd.DataFrame, performance: str) -> pd.DataFrame:
    """Tidy rows (quantity, value) for ED vs `performance`, ED vs smoothness and their Fisher z test.

    `wide` has one row per model x tau with columns effective_dim, smoothness and `performance`.
    """
    n = len(wide)
    r_perf, p_perf = pearson(wide["effective_dim"], wide[performance])
    r_topo, p_topo = pearson(wide["effective_dim"], wide["smoothness"])
    z, p_z = fisher_z_difference(r_perf, n, r_topo, n) if not math.isnan(r_perf + r_topo) else (math.nan, math.nan)
    values = {
        f"r_dim_{performance}": r_perf, f"p_dim_{performance}": p_perf,
        "r_dim_smoothness": r_topo, "p_dim_smoothness": p_topo,
        "fisher_z": z, "p_fisher_z": p_z, "n_models": n,
    }
    return pd.DataFrame({"quantity": list(values), "value": list(values.values())})
