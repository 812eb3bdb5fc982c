"""Cortical-sheet geometry (METHODS §1.1-1.2)."""

import numpy as np
import pytest

from toponets.sheet import sheet_for


@pytest.mark.parametrize(
    "units, shape",
    [(64, (8, 8)), (128, (8, 16)), (256, (16, 16)), (512, (16, 32)), (768, (24, 32)),
     (1024, (32, 32)), (2048, (32, 64)), (3072, (48, 64)), (13, (1, 13)), (1, (1, 1))],
)
def test_sheet_sizes_match_the_authors(units, shape):
    sheet = sheet_for(units)
    assert (sheet.height, sheet.width) == shape
    assert sheet.units == units


def test_positions_are_row_major():
    pos = sheet_for(6).positions()  # 2 x 3
    assert pos.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


def test_pairwise_distances_are_euclidean_in_pdist_order():
    d = sheet_for(4).pairwise_distances()  # 2 x 2: pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    np.testing.assert_allclose(d, [1, 1, np.sqrt(2), np.sqrt(2), 1, 1])


def test_to_map_places_values_on_the_sheet():
    sheet = sheet_for(6)
    assert sheet.to_map(np.arange(6)).tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="expected 6 unit values"):
        sheet.to_map(np.arange(5))


def test_empty_sheet_is_an_error():
    with pytest.raises(ValueError, match="at least one unit"):
        sheet_for(0)
