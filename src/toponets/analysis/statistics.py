"""Statistics of section 3.2: how effective dimensionality relates to performance and to topography.

Across models (one point per model x tau), Pearson r of dimensionality with
performance and with smoothness, and the Fisher z test of whether the two
correlations differ (independent-samples form, two-sided): the paper's test.
The two correlations share a variable (ED) and come from the same models, so
beside it comes Steiger's (1980) z for dependent correlations, which uses the
correlation between performance and smoothness.
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


def steiger_z(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """z statistic and two-sided p-value for H0: rho12 == rho13, two correlations of n cases that share
    variable 1 (r23: the other two variables' correlation). Steiger (1980, Psychol. Bull. 87:245, eq. 14):
    Fisher-transformed r's, their asymptotic covariance from the pooled r = (r12 + r13) / 2."""
    if n <= 3:
        return math.nan, math.nan
    z12, z13 = np.arctanh(np.clip([r12, r13], -1 + 1e-15, 1 - 1e-15))
    pooled = (r12 + r13) / 2
    psi = r23 * (1 - 2 * pooled**2) - 0.5 * pooled**2 * (1 - 2 * pooled**2 - r23**2)
    covariance = psi / (1 - pooled**2) ** 2
    if covariance >= 1:
        return math.nan, math.nan
    z = float(z12 - z13) * math.sqrt((n - 3) / (2 - 2 * covariance))
    return z, float(2 * stats.norm.sf(abs(z)))


def dimensionality_correlations(wide: pd.DataFrame, performance: str) -> pd.DataFrame:
    """Tidy rows (quantity, value) for ED vs `performance`, ED vs smoothness, their Fisher z test (the
    paper's) and Steiger's z (dependent correlations sharing ED).

    `wide` has one row per model x tau with columns effective_dim, smoothness and `performance`.
    """
    n = len(wide)
    r_perf, p_perf = pearson(wide["effective_dim"], wide[performance])
    r_topo, p_topo = pearson(wide["effective_dim"], wide["smoothness"])
    r_between, _ = pearson(wide[performance], wide["smoothness"])
    undefined = math.isnan(r_perf + r_topo)
    z, p_z = (math.nan, math.nan) if undefined else fisher_z_difference(r_perf, n, r_topo, n)
    steiger, p_steiger = (math.nan, math.nan) if undefined or math.isnan(r_between) else steiger_z(r_perf, r_topo, r_between, n)
    values = {
        f"r_dim_{performance}": r_perf, f"p_dim_{performance}": p_perf,
        "r_dim_smoothness": r_topo, "p_dim_smoothness": p_topo,
        "fisher_z": z, "p_fisher_z": p_z,
        f"r_{performance}_smoothness": r_between, "steiger_z": steiger, "p_steiger_z": p_steiger,
        "n_models": n,
    }
    return pd.DataFrame({"quantity": list(values), "value": list(values.values())})
