"""Analyses on given unit positions (TDANN's, Margalit et al. 2024) with the sheet as one case: smoothness
(§2.3, METHODS §2.1: correlation vs distance, highest - lowest binned r) gives a TopoNet identical numbers
through its sheet and through the sheet's (row, col) positions, and keeps its binning rule on any positions."""

import numpy as np
import torch

from toponets.analysis.activations import stream_activations
from toponets.analysis.smoothness import correlation_profile, distance_bins, model_smoothness
from toponets.models import build
from toponets.sheet import sheet_for
from toponets.unit_positions import MAX_UNITS, layer_positions, unit_subset


def test_sheet_and_its_positions_give_identical_smoothness():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 96)).cumsum(axis=1)  # neighbouring units correlate
    corr = np.corrcoef(x, rowvar=False)
    sheet = sheet_for(96)
    by_sheet = correlation_profile(corr, sheet, bins=12, shuffles=3, seed=5)
    by_positions = correlation_profile(corr, sheet.positions(), bins=12, shuffles=3, seed=5)
    assert by_sheet.score == by_positions.score and by_sheet.floor == by_positions.floor
    np.testing.assert_array_equal(by_sheet.r, by_positions.r)
    np.testing.assert_array_equal(by_sheet.distance, by_positions.distance)


def test_toponet_layers_sit_on_their_sheet():
    model = build("resnet18", width_multiplier=0.25, num_classes=4, small_stem=True)
    np.testing.assert_array_equal(layer_positions(model, "layer1.0.conv1", 16), sheet_for(16).positions())
    batches = [torch.randn(8, 3, 16, 16) for _ in range(4)]
    results, _ = model_smoothness(model, ["layer1.0.conv1", "layer4.1.conv2"], batches, bins=6, shuffles=2)
    acts = {k: torch.cat([b[k] for b in stream_activations(model, ["layer4.1.conv2"], batches)]) for k in ["layer4.1.conv2"]}
    direct = correlation_profile(np.corrcoef(acts["layer4.1.conv2"].double().numpy(), rowvar=False),
                                 sheet_for(128).positions(), bins=6, shuffles=2)
    np.testing.assert_allclose(results["layer4.1.conv2"].r, direct.r, atol=1e-9)


def test_binning_rule_on_arbitrary_positions():
    """Equal-width bins over [0, max distance], far sparse bins joined until min_pairs."""
    rng = np.random.default_rng(1)
    places = rng.uniform(0, 10, size=(200, 2))
    places[0] = [100.0, 100.0]  # one far unit: its 199 pairs fill the far bins alone
    binning = distance_bins(places, 20, min_pairs=250)
    counts = np.bincount(binning.index)
    assert binning.edges[0] == 0 and np.isclose(binning.edges[-1], np.hypot(*(places[0] - places).T).max())
    assert (counts >= 250).all() and counts.sum() == 200 * 199 // 2
    plain = distance_bins(places, 20, min_pairs=1)
    assert len(plain.edges) - 1 <= 20


def test_tdann_units_are_channel_row_col_with_a_fixed_subset():
    model = build("tdann", image_size=32).eval()
    layer = "base_model.layer1.0"  # 64 x 8 x 8 = 4,096 units
    model.positioned_layers[layer].copy_(torch.arange(4096 * 2, dtype=torch.float32).reshape(4096, 2))
    x = torch.randn(3, 3, 32, 32)
    out = next(stream_activations(model, [layer], [x], per_unit=True))[layer]
    with torch.no_grad():
        block = model.base_model.layer1[0](model.base_model.maxpool(model.base_model.relu(model.base_model.bn1(
            model.base_model.conv1(x)))))
    assert torch.equal(out, block.flatten(1)[:, :MAX_UNITS])
    assert next(stream_activations(model, [layer], [x]))[layer].shape == (3, 64)  # channels, reduced over space
    np.testing.assert_array_equal(layer_positions(model, layer, 4096)[:, 0], np.arange(0, 8192, 2))
    big = unit_subset(200704)
    assert len(big) == MAX_UNITS and np.array_equal(big, unit_subset(200704)) and (np.diff(big) > 0).all()


def test_selectivity_maps_through_sheet_positions_are_the_sheet_maps():
    """§3.4 / Figure 5A: a t-map on the sheet equals the map through the sheet's (row, col) positions."""
    from toponets.analysis.selectivity import map_ssim, selectivity_map

    t = np.random.default_rng(2).standard_normal(96)
    sheet = sheet_for(96)
    np.testing.assert_array_equal(selectivity_map(t), selectivity_map(t, sheet.positions()))
    u = np.random.default_rng(3).standard_normal(96)
    assert map_ssim(selectivity_map(t), selectivity_map(u)) == map_ssim(
        selectivity_map(t, sheet.positions()), selectivity_map(u, sheet.positions()))


def test_selectivity_map_bins_given_positions():
    from toponets.analysis.selectivity import selectivity_map

    rng = np.random.default_rng(4)
    places = rng.uniform(0, 8, size=(4096, 2))
    t = places[:, 0]  # a gradient along the first axis
    grid = selectivity_map(t, places)
    assert 24 <= grid.shape[0] <= 40 and np.isfinite(grid).all()
    assert (np.diff(grid.mean(axis=1)) > 0).all()


def test_unit_voxel_positions_of_matched_units():
    """§3.4 unit-to-voxel: a matched unit's position is its sheet (row, col), or its given position."""
    from toponets.analysis.unit_voxel import sheet_positions

    np.testing.assert_array_equal(sheet_positions([5, -1], 16), [[1, 1], [-1, -1]])
    places = np.arange(32, dtype=float).reshape(16, 2) / 10
    np.testing.assert_array_equal(sheet_positions([5, -1], 16, places), [[1.0, 1.1], [-1, -1]])
