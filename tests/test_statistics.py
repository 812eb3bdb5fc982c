"""Section 3.2 statistics on inputs with known answers."""

import math

import pandas as pd
import pytest

from toponets.analysis.statistics import dimensionality_correlations, fisher_z_difference, pearson


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
