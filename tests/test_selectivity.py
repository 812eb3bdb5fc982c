"""Selectivity maps and their structural similarity (METHODS §4): t statistic, SSIM, stimuli, CLI, Figure 5A."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity
from torch import nn

from conftest import tiny_checkpoint
from toponets.analysis.selectivity import (
    contrast_t,
    layer_responses,
    map_ssim,
    pair_ssims,
    selectivity_map,
    selectivity_maps,
    shuffled_ssim,
    ssim_win_size,
    welch_t,
)
from toponets.cli import selectivity as cli
from toponets.data.archives import extract
from toponets.data.stimuli import (
    FLOC_CATEGORIES,
    Contrast,
    StimulusImages,
    animacy_size_stimuli,
    floc_contrasts,
    floc_stimuli,
    realworld_size_stimuli,
    selectivity_stimuli,
)
from toponets.figures import fig5a

# ---------------------------------------------------------------- t statistic


def test_welch_t_by_hand():
    on = np.array([[1.0], [3.0]])  # mean 2, population variance 1
    off = np.array([[0.0], [0.0], [3.0]])  # mean 1, population variance 2
    expected = (2 - 1) / math.sqrt(1 / 2 + 2 / 3)
    np.testing.assert_allclose(welch_t(on, off), [expected], rtol=1e-12)


def test_welch_t_is_scipy_welch_with_population_variances():
    rng = np.random.default_rng(0)
    on, off = rng.normal(1.0, 2.0, size=(7, 5)), rng.normal(0.0, 0.5, size=(11, 5))
    # scipy uses ddof 1; scaling each side's samples' deviations by sqrt((n - 1) / n) makes its
    # sample variance our population variance, leaving the means alone
    shrink = lambda x: x.mean(0) + (x - x.mean(0)) * math.sqrt((len(x) - 1) / len(x))  # noqa: E731
    expected = stats.ttest_ind(shrink(on), shrink(off), equal_var=False).statistic
    np.testing.assert_allclose(welch_t(on, off), expected, rtol=1e-10)
    assert not np.allclose(welch_t(on, off), stats.ttest_ind(on, off, equal_var=False).statistic)


def test_zero_denominator_gives_zero_and_nan_responses_are_skipped():
    on = np.array([[2.0, 5.0, 1.0], [2.0, 5.0, np.nan], [2.0, 5.0, 3.0]])
    off = np.array([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    t = welch_t(on, off)
    assert t[0] == 0.0 and t[1] == 0.0  # constant on both sides, equal or not: t = 0
    # unit 2: nanmean 2, nanstd 1 over the two defined values, but N is the number of images (3), as in TDANN
    assert t[2] == pytest.approx(2 / math.sqrt(1 / 3), rel=1e-12)


def test_contrast_t_selects_images_by_label():
    responses = np.array([[5.0], [7.0], [1.0], [2.0], [3.0], [100.0]])
    labels = ["a", "a", "b", "c", "c", "ignored"]
    t = contrast_t(responses, labels, Contrast("a", ("a",), ("b", "c")))
    np.testing.assert_allclose(t, welch_t(responses[:2], responses[2:5]))
    with pytest.raises(ValueError, match="no images on one side"):
        contrast_t(responses, labels, Contrast("x", ("x",), ("b",)))
    with pytest.raises(ValueError, match="labels for"):
        contrast_t(responses, labels[:3], Contrast("a", ("a",), ("b",)))


# ---------------------------------------------------------------- maps and SSIM


def test_maps_are_placed_row_major_on_the_sheet():
    grid = selectivity_map(np.arange(128.0))  # 8 x 16 sheet
    assert grid.shape == (8, 16)
    assert grid[0, 15] == 15 and grid[1, 0] == 16 and grid[7, 15] == 127


def test_selectivity_map_similarity_of_a_map_with_itself_is_one_and_with_its_negation_negative():
    """Paper §3.4 reads SSIM as signed ("face and scene selectivity showed a negative correlation (structural
    similarity = -0.41)"): each map is scaled to [0, 1] first, so -m becomes 1 - m'.

    m = cos(2 pi col / 7) spans [lo, 1] (lo = cos(6 pi / 7)) and sums to 0 over any 7 neighbouring columns:
    scaled by its range d = 1 - lo, every 7x7 window of m has mean mu1 = -lo / d, that of -m mu2 = 1 / d, and
    both sample variance var = (7 * 3.5 / 48) / d^2, anti-correlated; with C1 = 0.01^2 and C2 = 0.03^2,
    SSIM(m, -m) = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1) * (-2 var + C2) / (2 var + C2).
    """
    m = np.tile(np.cos(2 * np.pi * np.arange(32) / 7), (16, 1))
    same = map_ssim(m, m)
    assert same.ssim == pytest.approx(1.0) and same.win_size == 7 and same.r == pytest.approx(1.0)
    lo = np.cos(6 * np.pi / 7)
    d = 1 - lo
    mu1, mu2, var, c1, c2 = -lo / d, 1 / d, 7 * 3.5 / 48 / d**2, 0.01**2, 0.03**2
    negated = map_ssim(m, -m)
    assert negated.r == pytest.approx(-1.0)
    expected = (2 * mu1 * mu2 + c1) / (mu1**2 + mu2**2 + c1) * (-2 * var + c2) / (2 * var + c2)
    assert negated.ssim == pytest.approx(expected, rel=1e-9)
    assert map_ssim(3.0 * m + 7.0, m).ssim == pytest.approx(1.0)  # scaling: offsets and gains do not matter


def test_selectivity_map_similarity_of_a_smooth_map_and_its_negation_is_negative_whatever_its_local_means():
    """Raw signed maps with a joint data range scored +0.68 to +0.93 here; scaled maps score below 0."""
    rng = np.random.default_rng(1)
    for offset in (0.0, 3.0):
        m = gaussian_filter(rng.normal(size=(16, 32)), 2) + offset * np.linspace(-1, 1, 32)
        assert map_ssim(m, -m).ssim < -0.5
        assert structural_similarity(m, -m, win_size=7, data_range=2 * np.abs(m).max()) > 0.6  # the raw reading


def test_selectivity_map_similarity_of_unrelated_maps_is_near_zero():
    rng = np.random.default_rng(4)
    def smooth():
        return gaussian_filter(rng.normal(size=(16, 32)), 2)

    values = [map_ssim(smooth(), smooth()).ssim for _ in range(30)]
    assert abs(np.mean(values)) < 0.05 and np.std(values) < 0.2


def test_shuffled_layout_control():
    rng = np.random.default_rng(5)
    m = rng.normal(size=(8, 16))
    assert shuffled_ssim(m, m, shuffles=3) == pytest.approx(1.0)  # the same layout for both maps
    # by hand: the mean of SSIM over the seeded layouts
    a, b = m, rng.normal(size=(8, 16))
    rng7 = np.random.default_rng(7)
    expected = np.mean([map_ssim(a.ravel()[o].reshape(8, 16), b.ravel()[o].reshape(8, 16)).ssim
                        for o in (rng7.permutation(128), rng7.permutation(128))])  # fmt: skip
    assert shuffled_ssim(a, b, shuffles=2, seed=7) == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least one shuffle"):
        shuffled_ssim(a, b, shuffles=0)


def test_window_shrinks_on_small_sheets():
    assert [ssim_win_size((h, 32)) for h in (16, 7, 6, 5, 4, 3)] == [7, 7, 5, 5, 3, 3]
    assert ssim_win_size((2, 8)) is None and ssim_win_size((1, 17)) is None
    m = np.random.default_rng(3).normal(size=(4, 4))
    small = map_ssim(m, m[::-1])
    scaled = (m - m.min()) / np.ptp(m)
    assert small.win_size == 3
    assert small.ssim == pytest.approx(structural_similarity(scaled, scaled[::-1], win_size=3, data_range=1.0))
    assert math.isnan(map_ssim(np.ones((1, 17)), np.arange(17.0)[None]).ssim)  # no window fits a 1 x 17 sheet
    flat = map_ssim(np.zeros((4, 4)), m)  # a constant map has no range to scale
    assert math.isnan(flat.ssim) and math.isnan(flat.r)
    with pytest.raises(ValueError, match="one shape"):
        map_ssim(np.zeros((4, 4)), np.zeros((4, 8)))


def test_maps_and_pairs_from_responses():
    rng = np.random.default_rng(4)
    labels = ["floc/adult"] * 3 + ["floc/body"] * 3 + ["floc/house"] * 3
    responses = {"layer": rng.normal(size=(9, 16))}
    contrasts = [Contrast("faces", ("floc/adult",), ("floc/body", "floc/house")),
                 Contrast("bodies", ("floc/body",), ("floc/adult", "floc/house")),
                 Contrast("places", ("floc/house",), ("floc/adult", "floc/body"))]  # fmt: skip
    maps = selectivity_maps(responses, labels, contrasts)
    faces = welch_t(responses["layer"][:3], responses["layer"][3:])
    np.testing.assert_allclose(maps["layer"]["faces"], faces.reshape(4, 4))
    ssims = pair_ssims(maps["layer"])
    assert set(ssims) == {"face_body", "face_place"}  # no size or animacy maps, no such pairs
    assert ssims["face_body"] == map_ssim(maps["layer"]["faces"], maps["layer"]["bodies"])
    assert math.isnan(ssims["face_body"].ssim_shuffled)
    controlled = pair_ssims(maps["layer"], shuffles=4)
    assert controlled["face_body"].ssim_shuffled == shuffled_ssim(maps["layer"]["faces"], maps["layer"]["bodies"], 4)


def test_layer_responses_keep_stimulus_order():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3))
    images = torch.randn(10, 3, 8, 8)
    responses = layer_responses(model, ["0", "2"], [(images[:4], torch.arange(4)), (images[4:], torch.arange(4, 10))])
    with torch.no_grad():
        expected = model(images).mean(dim=(2, 3)).numpy()
    assert responses["0"].shape == (10, 4)
    np.testing.assert_allclose(responses["2"], expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- stimuli from the mirror


@pytest.fixture(scope="module")
def stimulus_dirs(mirror, tmp_path_factory):
    root = tmp_path_factory.mktemp("stimuli")
    names = ("floc", "konkle-animacy-size", "konkle-realworld-size")
    return {name: extract(mirror / "stimuli" / f"{name}.tar", root / name) for name in names}


def test_stimulus_lists_from_the_mirror(stimulus_dirs):
    floc = floc_stimuli(stimulus_dirs["floc"])
    counts = pd.Series([s.label for s in floc]).value_counts()
    assert len(counts) == 10 and (counts == 144).all() and "floc/scrambled" not in counts
    adult = [s.path.name for s in floc if s.label == "floc/adult"]
    assert adult[:3] == ["adult-1.jpg", "adult-2.jpg", "adult-3.jpg"] and adult[-1] == "adult-144.jpg"

    animacy_size = pd.Series([s.label for s in animacy_size_stimuli(stimulus_dirs["konkle-animacy-size"])])
    assert animacy_size.value_counts().to_dict() == {f"animacy-size/{c}": 30 for c in
                                                      ("BigAnimals", "SmallAnimals", "BigObjects", "SmallObjects")}
    realworld = pd.Series([s.label for s in realworld_size_stimuli(stimulus_dirs["konkle-realworld-size"])])
    assert realworld.value_counts().to_dict() == {"realworld-size/BigObjects": 200, "realworld-size/SmallObjects": 200}

    few = animacy_size_stimuli(stimulus_dirs["konkle-animacy-size"], max_per_category=6)
    big_animals = [s.path.parent.name for s in few if s.label == "animacy-size/BigAnimals"]
    assert len(few) == 24 and len(set(big_animals)) == 6  # spread over all six class folders


def test_contrasts_cover_the_domains_against_all_other_categories():
    contrasts = {c.name: c for c in floc_contrasts()}
    assert list(contrasts) == ["faces", "bodies", "places", "characters", "objects"]
    assert contrasts["faces"].on == ("floc/adult", "floc/child")
    assert len(contrasts["faces"].off) == 8 and not set(contrasts["faces"].on) & set(contrasts["faces"].off)
    assert set(contrasts["places"].on + contrasts["places"].off) == {f"floc/{c}" for c in FLOC_CATEGORIES}


def test_stimulus_images_are_three_channel_eval_crops(stimulus_dirs):
    stimuli, contrasts = selectivity_stimuli(stimulus_dirs["floc"], stimulus_dirs["konkle-animacy-size"],
                                             stimulus_dirs["konkle-realworld-size"], max_per_category=1)  # fmt: skip
    assert len(stimuli) == 10 + 4 + 2
    assert [c.name for c in contrasts][-3:] == ["animacy", "size", "size_objects"]
    dataset = StimulusImages(stimuli, res=32)
    image, index = dataset[0]  # a greyscale fLoc image
    assert image.shape == (3, 32, 32) and index == 0
    # greyscale repeated to 3 channels, then normalised per channel: undo it and the channels agree
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    pixels = image * std[:, None, None] + mean[:, None, None]
    torch.testing.assert_close(pixels[0], pixels[2], atol=1e-5, rtol=0)
    assert dataset[len(stimuli) - 1][0].shape == (3, 32, 32)


def test_missing_or_odd_directories_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="fLoc: .*adult is missing"):
        floc_stimuli(tmp_path)
    for category in FLOC_CATEGORIES:
        (tmp_path / category).mkdir()
    (tmp_path / "adult" / "face-1.jpg").touch()
    with pytest.raises(ValueError, match="expected adult/adult-<n>.jpg"):
        floc_stimuli(tmp_path)


# ---------------------------------------------------------------- CLI and figure


def run_cli(tmp_path, dirs, *extra, **settings):
    out = tmp_path / "out"
    settings = {"res": 16, "max_per_category": 2, "batch_size": 16, "shuffles": 3, **settings}
    cli.main(
        [
            "--checkpoint", str(tmp_path / "model.safetensors"), "--floc", str(dirs["floc"]),
            "--animacy-size", str(dirs["konkle-animacy-size"]), "--settings", json.dumps({"selectivity": settings}),
            "--device", "cpu", "--maps", str(out / "maps.csv"), "--ssim", str(out / "ssim.csv"),
            "--out", str(out / "report.json"), *extra,
        ]
    )  # fmt: skip
    return pd.read_csv(out / "maps.csv"), pd.read_csv(out / "ssim.csv"), json.loads((out / "report.json").read_text())


def test_cli_end_to_end_and_figure(tmp_path, stimulus_dirs):
    tiny_checkpoint(tmp_path / "model.safetensors", classes=10)
    layers = ["layer3.1.conv2", "layer4.0.conv2", "layer4.1.conv2"]  # 8x8, 8x16, 8x16 sheets
    maps, ssim, report = run_cli(tmp_path, stimulus_dirs, "--layers", *layers, late_fraction=0.5)

    assert list(maps.columns) == ["model", "tau", "seed", "weights", "layer", "contrast", "row", "col", "t"]
    assert maps.layer.unique().tolist() == layers and (maps.weights == "trained").all()
    assert maps.contrast.unique().tolist() == ["faces", "bodies", "places", "characters", "objects", "animacy", "size"]
    assert len(maps) == 7 * (64 + 128 + 128)
    assert report["n_images"] == 10 * 2 + 4 * 2 and report["contrasts"]["faces"]["n_on"] == 4
    assert report["contrasts"]["size"] == {"on": ["animacy-size/BigAnimals", "animacy-size/BigObjects"],
                                           "off": ["animacy-size/SmallAnimals", "animacy-size/SmallObjects"],
                                           "n_on": 4, "n_off": 4}  # fmt: skip
    assert report["late_layers"] == layers[1:]
    pairs = ("face_body", "face_place", "size_animacy")
    assert set(report["metrics"]) == {f"{kind}_{pair}" for kind in ("ssim", "r", "ssim_shuffled", "fig5a_ssim")
                                      for pair in pairs}  # fmt: skip

    # the SSIM table and report agree with SSIMs recomputed from the written maps
    last = maps[maps.layer == layers[-1]]
    grid = {c: fig5a.sheet_map(last[last.contrast == c]) for c in ("faces", "places")}
    assert grid["faces"].shape == (8, 16)
    expected = map_ssim(grid["faces"], grid["places"])
    row = ssim[(ssim.layer == layers[-1]) & (ssim.pair == "face_place")].iloc[0]
    assert list(ssim.columns) == ["model", "tau", "seed", "weights", "layer", "pair", "first", "second", "ssim", "win_size", "r",
                                  "ssim_shuffled"]  # fmt: skip
    assert ssim.ssim_shuffled.notna().all()
    assert row.ssim == pytest.approx(expected.ssim) and row.win_size == expected.win_size == 7
    assert row.r == pytest.approx(expected.r)
    assert report["ssim_per_layer"][layers[-1]]["face_place"] == pytest.approx(expected.ssim)
    assert report["fig5a_layer"] == layers[-1]  # the layer Figure 5A draws
    assert report["metrics"]["fig5a_ssim_face_place"] == pytest.approx(expected.ssim)
    late = ssim[ssim.layer.isin(layers[1:]) & (ssim.pair == "size_animacy")]
    assert report["metrics"]["ssim_size_animacy"] == pytest.approx(late.ssim.mean())
    assert report["metrics"]["r_size_animacy"] == pytest.approx(late.r.mean())
    assert report["metrics"]["ssim_shuffled_size_animacy"] == pytest.approx(late.ssim_shuffled.mean())

    # an untrained column: same architecture, new weights from --init-seed
    untrained_maps, untrained_ssim, untrained = run_cli(tmp_path, stimulus_dirs, "--layers", *layers, "--untrained")
    assert untrained["weights"] == "untrained" and untrained["init_seed"] == 0
    assert not np.allclose(untrained_maps.t, maps.t)
    # #15 item 4, "Run identity travels with the data": the untrained maps name the run whose checkpoint
    # gave the architecture (as their selectivity_untrained/<model>/tau<tau>/seed<seed> path did), and the analysis
    assert (report["analysis"], untrained["analysis"]) == ("selectivity", "selectivity_untrained")
    assert report["run"] == untrained["run"] == {"model": "tiny", "tau": 1.0, "seed": 0}
    for table in (untrained_maps, untrained_ssim):
        assert table[["model", "tau", "seed"]].drop_duplicates().values.tolist() == [["tiny", 1.0, 0]]

    # Figure 5A from the three runs, as `tables curves` would concatenate them and `cli.figure` stack them
    runs = [(untrained_maps, untrained_ssim, 0.0), (maps, ssim, 0.0), (maps, ssim, 10.0)]
    tables = [pd.concat([run[i].assign(model="resnet18", tau=run[2], seed=0) for run in runs]) for i in (0, 1)]
    for i, table in enumerate(tables):
        table.to_csv(tmp_path / f"table{i}.csv", index=False)
    outputs = [tmp_path / "fig5a.png", tmp_path / "fig5a.pdf"]
    stacked = pd.concat([pd.read_csv(tmp_path / f"table{i}.csv") for i in (0, 1)], ignore_index=True)
    fig5a.plot(stacked, outputs)
    assert all(path.stat().st_size > 0 for path in outputs)
    assert [title for title, _ in fig5a.columns(tables[0])] == ["Untrained", "Baseline (τ 0)", "TopoNet (τ 10)"]
    with pytest.raises(ValueError, match="not in the maps table"):
        fig5a.plot(stacked, outputs, layer="layer1.0.conv1")
    with pytest.raises(ValueError, match="needs the maps and the SSIM table"):
        fig5a.plot(tables[0], outputs)


def test_cli_refuses_unknown_layers(tmp_path, stimulus_dirs):
    tiny_checkpoint(tmp_path / "model.safetensors")
    with pytest.raises(KeyError, match="no layer named 'layer9'"):
        run_cli(tmp_path, stimulus_dirs, "--layers", "layer9")
