"""Smoothness (METHODS §2): streaming correlations, distance binning, known curves, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import tiny_checkpoint, tiny_image_folder
from toponets.analysis.activations import stream_activations
from toponets.analysis.smoothness import (
    CorrelationAccumulator,
    correlation_profile,
    distance_bins,
    joined_bins,
    layer_smoothness,
    model_smoothness,
)
from toponets.cli import smoothness as cli
from toponets.models import topographic_layers
from toponets.sheet import Sheet, sheet_for


def brute_force_profile(corr: np.ndarray, sheet: Sheet, bins: int):
    """Binned mean r by explicit loops over pairs: bin = floor(d / width), the maximum in the last bin."""
    pos = sheet.positions()
    pairs = [(i, j) for i in range(sheet.units) for j in range(i + 1, sheet.units)]
    dist = {(i, j): math.dist(pos[i], pos[j]) for i, j in pairs}
    width = max(dist.values()) / bins
    values = [[] for _ in range(bins)]
    for (i, j), d in dist.items():
        if not np.isnan(corr[i, j]):
            values[min(int(d // width), bins - 1)].append(corr[i, j])
    return np.array([np.mean(v) if v else np.nan for v in values]), np.array([len(v) for v in values])


def batches_of(x: np.ndarray, sizes: list[int]):
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == len(x)
    return [x[a:b] for a, b in zip(edges[:-1], edges[1:])]


def test_streaming_equals_corrcoef_with_large_means():
    rng = np.random.default_rng(0)
    x = 1e3 + rng.normal(size=(1000, 50)) * rng.uniform(0.1, 5.0, size=50)
    x[:, 1] = 0.5 * x[:, 0] + rng.normal(size=1000)  # some real structure
    acc = CorrelationAccumulator(50)
    for i, batch in enumerate(batches_of(x, [1, 7, 300, 692])):
        acc.update(torch.from_numpy(batch) if i % 2 else batch)  # tensors and arrays alike
    assert acc.n == 1000
    np.testing.assert_allclose(acc.correlation(), np.corrcoef(x, rowvar=False), atol=1e-10)


def test_layer_smoothness_equals_single_pass_computation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 128)) + np.linspace(0, 3, 128) * rng.normal(size=(500, 1))
    streamed = layer_smoothness(batches_of(x, [100, 250, 150]), bins=15)
    direct = correlation_profile(np.corrcoef(x, rowvar=False), sheet_for(128), bins=15)
    np.testing.assert_allclose(streamed.r, direct.r, atol=1e-12)
    np.testing.assert_array_equal(streamed.pairs, direct.pairs)
    assert streamed.score == pytest.approx(direct.score, abs=1e-12)


def test_binning_matches_brute_force_on_2d_sheet():
    sheet = sheet_for(128)  # 8 x 16
    rng = np.random.default_rng(2)
    corr = rng.uniform(-1, 1, size=(128, 128))
    corr = (corr + corr.T) / 2
    result = correlation_profile(corr, sheet, bins=20, min_pairs=1)
    expected_r, expected_pairs = brute_force_profile(corr, sheet, 20)
    np.testing.assert_allclose(result.r, expected_r, atol=1e-12)
    np.testing.assert_array_equal(result.pairs, expected_pairs)


def test_bins_span_zero_to_max_distance_with_the_maximum_in_the_last_bin():
    sheet = sheet_for(3072)  # 48 x 64
    binning = distance_bins(sheet, 20, min_pairs=1)
    assert binning.edges[0] == 0 and binning.edges[-1] == pytest.approx(math.hypot(47, 63))
    assert len(binning.index) == 3072 * 3071 // 2
    assert binning.index.min() >= 0 and binning.index.max() == 19
    assert distance_bins(sheet, 20, min_pairs=1) is binning  # precomputed once per sheet shape
    np.testing.assert_allclose(binning.centres, (binning.edges[:-1] + binning.edges[1:]) / 2)


def test_cosine_map_has_exact_curve():
    """Units on a 1 x 13 sheet respond cos(phi_s - w k): over evenly spaced phases r(k, l) = cos(w (k - l))."""
    units, w = 13, math.pi / 12
    phases = 2 * np.pi * np.arange(8) / 8
    x = np.cos(phases[:, None] - w * np.arange(units)[None, :])
    result = layer_smoothness([x[:5], x[5:]], bins=12, min_pairs=1)  # edges 0, 1, ..., 12: distance d lands in bin d
    assert sheet_for(units) == Sheet(1, 13)
    expected = [np.nan] + [math.cos(w * d) for d in range(1, 11)] + [(2 * math.cos(11 * w) + math.cos(12 * w)) / 3]
    np.testing.assert_allclose(result.r, expected, atol=1e-12)
    np.testing.assert_array_equal(result.pairs, [0] + [13 - d for d in range(1, 11)] + [2 + 1])
    np.testing.assert_allclose(result.distance, np.arange(12) + 0.5)
    assert result.score == pytest.approx(math.cos(w) - expected[-1], abs=1e-12)


def test_two_halves_correlated_within_anticorrelated_across():
    sheet = sheet_for(64)  # 8 x 8
    z = np.random.default_rng(3).normal(size=(300, 1))
    left = sheet.positions()[:, 1] < 4
    x = np.where(left[None, :], z, -z)
    result = layer_smoothness([x], bins=20, min_pairs=1)
    expected_corr = np.where(left[:, None] == left[None, :], 1.0, -1.0)
    expected_r, expected_pairs = brute_force_profile(expected_corr, sheet, 20)
    np.testing.assert_allclose(result.r, expected_r, atol=1e-12)
    np.testing.assert_array_equal(result.pairs, expected_pairs)
    # by hand: bins 0-1 are empty; bin 2 holds the 112 distance-1 pairs (8 across) and the
    # 98 diagonal ones (14 across): (210 - 2 * 22) / 210; the last bin holds only the two
    # corner-to-corner pairs, both across the halves
    assert np.isnan(result.r[:2]).all()
    assert result.pairs[2] == 210 and result.r[2] == pytest.approx(166 / 210, abs=1e-12)
    assert result.pairs[-1] == 2 and result.r[-1] == pytest.approx(-1.0, abs=1e-12)
    assert result.score == pytest.approx(np.nanmax(expected_r) + 1.0, abs=1e-12)


def test_smoothness_floor_joins_far_bins_until_each_has_min_pairs():
    # far to near: 1 + 2 + 0 + 3 >= 4 joins bins 3-6; bin 2 (5) stands; the empty near bins stay
    assert joined_bins(np.array([0, 0, 5, 3, 0, 2, 1]), 4) == [(0, 0), (1, 1), (2, 2), (3, 6)]
    # a short non-empty run at the near end (bin 1) joins its outer non-empty neighbour, over the empty bin 2
    assert joined_bins(np.array([0, 2, 0, 50, 3, 0, 2, 1]), 4) == [(0, 0), (1, 3), (4, 7)]
    assert joined_bins(np.array([0, 0, 5, 3, 0, 2, 1]), 1) == [(k, k) for k in range(7)]  # plain bins
    assert joined_bins(np.array([0, 0, 5, 3, 0, 2, 1]), 100) == [(0, 0), (1, 1), (2, 6)]  # too few pairs: one bin
    binning = distance_bins(sheet_for(64), 20)  # 8 x 8: ResNet-18's 64-channel layer1
    pairs = np.bincount(binning.index)
    assert pairs.sum() == 64 * 63 // 2 and pairs[pairs > 0].min() >= 100
    assert binning.edges[-1] == pytest.approx(math.hypot(7, 7))
    small = np.bincount(distance_bins(sheet_for(16), 10).index)  # 4 x 4: 120 pairs, so 30 per bin
    assert (small > 0).sum() >= 3 and small[small > 0].min() >= 30


def test_smoothness_floor_no_structure_scores_at_most_0_05_on_8x8_from_100_stimuli():
    """Section 2.3: smoothness is "the difference between the highest and lowest correlation values" of the
    correlation-vs-distance plot. Responses with no spatial structure must score near 0 (and near their
    floor) on an 8 x 8 sheet from 100 stimuli, where plain equal-width bins score about 0.09."""
    rng = np.random.default_rng(6)
    results = [layer_smoothness([rng.normal(size=(100, 64))], shuffles=5) for _ in range(20)]
    scores = np.array([r.score for r in results])
    floors = np.array([r.floor for r in results])
    assert scores.mean() <= 0.05 and floors.mean() <= 0.05
    assert abs(scores.mean() - floors.mean()) < 0.01
    plain = [layer_smoothness([rng.normal(size=(100, 64))], min_pairs=1, shuffles=0).score for _ in range(20)]
    assert np.mean(plain) > 0.06  # what the joining removes


def test_smoothness_floor_planted_smooth_map_scores_its_known_value():
    """Section 2.3 (max - min of the correlation-vs-distance curve) on a planted map: 61 units on a 1 x 61
    sheet respond cos(phi_s - w k), so over evenly spaced phases r(k, l) = cos(w |k - l|) exactly. With 20
    bins of width 3, the nearest bin holds distances 1-2 (60 + 59 pairs); walking in from the farthest,
    bins 15-19 (distances 45-60: 16 + ... + 1 = 136 pairs) are the first to reach 100 pairs."""
    units, w = 61, math.pi / 60
    phases = 2 * np.pi * np.arange(8) / 8
    x = np.cos(phases[:, None] - w * np.arange(units)[None, :])
    result = layer_smoothness([x], bins=20, shuffles=10)
    near = sum((units - d) * math.cos(w * d) for d in (1, 2)) / 119
    far = sum((units - d) * math.cos(w * d) for d in range(45, 61)) / 136
    assert result.pairs[0] == 119 and result.pairs[-1] == 136
    assert result.r[0] == pytest.approx(near, abs=1e-12) and result.r[-1] == pytest.approx(far, abs=1e-12)
    assert result.score == pytest.approx(near - far, abs=1e-12)
    assert result.floor < 0.25 * result.score  # shuffled places keep the r values, not their order by distance


def test_smoothness_floor_is_the_score_with_units_at_shuffled_places():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 64)) + np.linspace(0, 2, 64) * rng.normal(size=(60, 1))
    corr = np.corrcoef(x, rowvar=False)
    sheet = sheet_for(64)
    result = correlation_profile(corr, sheet, shuffles=3, seed=11)
    perms = np.random.default_rng(11)
    expected = [correlation_profile(corr[np.ix_(p, p)], sheet).score for p in (perms.permutation(64) for _ in range(3))]
    assert result.floor == pytest.approx(np.mean(expected), abs=1e-12)
    assert math.isnan(correlation_profile(corr, sheet).floor)  # no shuffles, no floor


def test_independent_noise_gives_flat_curve():
    x = np.random.default_rng(4).normal(size=(20_000, 64))
    result = layer_smoothness(batches_of(x, [5000] * 4), bins=20)
    assert np.nanmax(np.abs(result.r)) < 0.03
    assert 0 <= result.score < 0.05


def test_zero_variance_units_are_ignored():
    sheet = sheet_for(64)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 64)) + np.linspace(-2, 2, 64) * rng.normal(size=(200, 1))
    x[:, 3], x[:, 10] = 7.25, 0.0
    acc = CorrelationAccumulator(64)
    acc.update(x[:80])
    acc.update(x[80:])
    corr = acc.correlation()
    dead = np.zeros(64, dtype=bool)
    dead[[3, 10]] = True
    assert np.isnan(corr[dead]).all() and np.isnan(corr[:, dead]).all()
    live = np.corrcoef(x[:, ~dead], rowvar=False)
    np.testing.assert_allclose(corr[np.ix_(~dead, ~dead)], live, atol=1e-12)

    result = correlation_profile(corr, sheet, bins=20, min_pairs=1)
    expected_r, expected_pairs = brute_force_profile(corr, sheet, 20)
    assert result.pairs.sum() == 62 * 61 // 2
    np.testing.assert_array_equal(result.pairs, expected_pairs)
    np.testing.assert_allclose(result.r, expected_r, atol=1e-12)
    assert np.isfinite(result.score)


def test_all_constant_units_give_undefined_score():
    result = layer_smoothness([np.ones((10, 16))], bins=5)
    assert np.isnan(result.r).all() and result.pairs.sum() == 0 and math.isnan(result.score)


def test_units_that_respond_as_one_have_no_score_not_zero():
    """Section 2.3's score, max - min of the binned curve, reads 0 for a layer whose units all correlate 1
    (TopoLoss pulled them to one set of weights), as for a perfectly smooth map; such a layer is flagged."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(50, 1))
    result = layer_smoothness([signal * rng.uniform(1, 2, size=16) + rng.normal(size=16)], bins=5)
    assert result.collapsed and math.isnan(result.score) and math.isnan(result.floor)
    assert np.allclose(result.r[result.pairs > 0], 1.0)
    assert not layer_smoothness([rng.normal(size=(50, 16))], bins=5).collapsed


def test_clear_errors():
    with pytest.raises(ValueError, match="at least 2 stimuli"):
        layer_smoothness([np.zeros((1, 16))])
    with pytest.raises(ValueError, match=r"\(batch, 16\)"):
        CorrelationAccumulator(16).update(np.zeros((4, 15)))
    with pytest.raises(ValueError, match="no responses"):
        layer_smoothness([])
    with pytest.raises(ValueError, match="at least one distance bin"):
        distance_bins(sheet_for(16), 0)
    with pytest.raises(ValueError, match="min_pairs must be at least 1"):
        distance_bins(sheet_for(16), 5, min_pairs=0)
    with pytest.raises(ValueError, match="16x16 correlation"):
        correlation_profile(np.zeros((4, 4)), sheet_for(16))


def test_model_smoothness_matches_stored_responses():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3), nn.Flatten(), nn.LazyLinear(12))
    images = torch.randn(40, 3, 9, 9)
    batches = [(images[i : i + 16], torch.zeros(0)) for i in range(0, 40, 16)]
    model(images[:1])  # materialise the lazy layer
    layers = ["0", "2", "4"]
    results, n = model_smoothness(model, layers, batches, bins=10, reduce="max")
    assert n == 40 and list(results) == layers
    stored = list(stream_activations(model, layers, batches, reduce="max"))
    for name in layers:
        x = torch.cat([b[name] for b in stored]).double().numpy()
        direct = correlation_profile(np.corrcoef(x, rowvar=False), sheet_for(x.shape[1]), bins=10)
        np.testing.assert_allclose(results[name].r, direct.r, atol=1e-10)
        assert results[name].score == pytest.approx(direct.score, abs=1e-10)


def test_cli_writes_scores_and_curves(tmp_path):
    model = tiny_checkpoint(tmp_path / "model.safetensors")
    images = tiny_image_folder(tmp_path / "val")
    out, curves = tmp_path / "out" / "scores.json", tmp_path / "out" / "curves.csv"
    cli.main(
        [
            "--checkpoint", str(tmp_path / "model.safetensors"), "--images", str(images),
            "--settings", json.dumps({"smoothness": {"res": 16, "n_images": 8, "bins": 6, "batch_size": 3}}),
            "--device", "cpu",
            "--out", str(out), "--curves", str(curves),
        ]
    )  # fmt: skip
    report = json.loads(out.read_text())
    layers = topographic_layers(model, "resnet18")
    assert len(layers) == 19 and list(report["per_layer"]) == layers
    assert report["n_images"] == 8 and report["bins"] == 6 and report["reduce"] == "mean"
    assert report["min_pairs"] == 100 and report["shuffles"] == 10 and list(report["per_layer_floor"]) == layers
    scores = list(report["per_layer"].values())
    assert report["metrics"]["smoothness"] == pytest.approx(np.mean(scores))
    assert report["metrics"]["smoothness_floor"] == pytest.approx(np.mean(list(report["per_layer_floor"].values())))
    table = pd.read_csv(curves)
    assert list(table.columns) == ["model", "tau", "seed", "layer", "distance", "r", "pairs"]
    assert table["layer"].unique().tolist() == layers
    for name, rows in table.groupby("layer"):
        units = sheet_for(dict(model.named_modules())[name].out_channels).units
        assert len(rows) == len(distance_bins(sheet_for(units), 6).edges) - 1 <= 6
        assert rows["pairs"].sum() <= units * (units - 1) // 2
        assert np.nanmax(rows["r"]) - np.nanmin(rows["r"]) == pytest.approx(report["per_layer"][name])
    assert not list(out.parent.glob(".*.part"))
