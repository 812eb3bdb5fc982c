"""Section 3.2 statistics on inputs with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from toponets.analysis.statistics import dimensionality_correlations, fisher_z_difference, pearson, steiger_z


def test_pearson_known_values():
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8])[0] == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [8, 6, 4, 2])[0] == pytest.approx(-1.0)
    r, p = pearson([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert r == pytest.approx(0.8) and p == pytest.approx(0.104088, abs=1e-5)
    assert math.isnan(pearson([1, 2], [3, 4])[0]) and math.isnan(pearson([1, 1, 1], [1, 2, 3])[0])


def test_fisher_z_known_value():
    # atanh(0.5) - atanh(0.2) = 0.346582; / sqrt(2/97) = 2.41368
    z, p = fisher_z_difference(0.5, 100, 0.2, 100)
    assert z == pytest.approx(2.41368, abs=1e-4) and p == pytest.approx(0.015795, abs=1e-4)
    assert fisher_z_difference(0.5, 100, 0.5, 50) == (0.0, 1.0)
    assert math.isnan(fisher_z_difference(0.5, 3, 0.2, 10)[0])


def test_dimensionality_correlations_rows():
    wide = pd.DataFrame({"effective_dim": [1, 2, 3, 4, 5], "top1": [2, 4, 6, 8, 10], "smoothness": [2, 1, 4, 3, 5]})
    rows = dict(zip(*dimensionality_correlations(wide, "top1").T.values))
    assert rows["r_dim_top1"] == pytest.approx(1.0) and rows["r_dim_smoothness"] == pytest.approx(0.8)
    assert rows["n_models"] == 5
    assert rows["r_top1_smoothness"] == pytest.approx(0.8)
    z, p = steiger_z(1.0, 0.8, 0.8, 5)
    assert rows["steiger_z"] == pytest.approx(z) and rows["p_steiger_z"] == pytest.approx(p)


def steiger_general(r_jk, r_hm, r_jh, r_jm, r_kh, r_km, n):
    """Steiger's (1980) z for two correlations r_jk, r_hm of the same cases in general (eq. 11-12 with
    pooled r_jk = r_hm): the asymptotic covariance of the two, written out for four variables."""
    pooled = (r_jk + r_hm) / 2
    psi = (0.5 * pooled * pooled * (r_jh**2 + r_jm**2 + r_kh**2 + r_km**2) + r_jh * r_km + r_jm * r_kh
           - (pooled * r_jh * r_jm + pooled * r_kh * r_km + r_jh * r_kh * pooled + r_jm * r_km * pooled))
    c = psi / (1 - pooled**2) ** 2
    return (np.arctanh(r_jk) - np.arctanh(r_hm)) * np.sqrt((n - 3) / (2 - 2 * c))


def test_section_3_2_statistics_steiger_z_for_correlations_sharing_ed():
    """Section 3.2: "The difference between the linear relationships was statistically significant ...
    (P < 0.05, on Fisher's z-transformed correlations)". Both correlations are of ED over the same models, so
    Steiger's z for dependent correlations goes beside the paper's Fisher z. Known answers: the general
    four-variable form with the shared variable (j = h, r_jh = 1) and the pooled r; by hand, r12 = -r13 = 0.5
    pools to 0, so z = 2 atanh(0.5) sqrt((n - 3) / (2 - 2 r23)); and under H0 it rejects 5% of samples where
    the independent-samples Fisher z, ignoring that the correlations share ED, almost never does."""
    for r12, r13, r23, n in [(0.45, 0.65, 0.35, 200), (-0.3, 0.6, -0.2, 12), (0.1, 0.2, 0.9, 30)]:
        pooled = (r12 + r13) / 2
        expected = steiger_general(r12, r13, 1.0, pooled, pooled, r23, n)
        assert steiger_z(r12, r13, r23, n)[0] == pytest.approx(expected, rel=1e-12)
    z, p = steiger_z(0.5, -0.5, 0.5, 103)
    assert z == pytest.approx(2 * math.atanh(0.5) * 10, rel=1e-12) and p < 1e-20
    assert steiger_z(0.4, 0.4, 0.3, 50) == (0.0, 1.0)
    assert math.isnan(steiger_z(0.5, 0.2, 0.1, 3)[0])

    rng = np.random.default_rng(0)
    n, rho, r23 = 40, 0.3, 0.8  # ED correlates 0.3 with both; performance and smoothness correlate 0.8
    chol = np.linalg.cholesky([[1, rho, rho], [rho, 1, r23], [rho, r23, 1]])
    samples = rng.normal(size=(2000, n, 3)) @ chol.T
    steiger, fisher = [], []
    for x in samples:
        c = np.corrcoef(x, rowvar=False)
        steiger.append(steiger_z(c[0, 1], c[0, 2], c[1, 2], n)[1] < 0.05)
        fisher.append(fisher_z_difference(c[0, 1], n, c[0, 2], n)[1] < 0.05)
    assert 0.03 < np.mean(steiger) < 0.07 and np.mean(fisher) < 0.01
