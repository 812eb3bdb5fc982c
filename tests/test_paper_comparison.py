"""The paper-vs-run table: known answers from hand-built tidy tables, and the ids that join each item's
module to paper_numbers.yaml."""

from dataclasses import replace

import pandas as pd
import pytest

import toponets.comparison.compare as comparison
from toponets.cli import paper_comparison as cli
from toponets.comparison import figure_07
from toponets.comparison.compare import ITEMS, NOT_MEASURED, NOT_REPORTED, compare, paper_numbers
from toponets.comparison.format import count, num, series
from toponets.comparison.paper import PAPER_NUMBERS, read_paper_numbers
from toponets.comparison.run_tables import Measured, per_run

FAMILIES = {
    "resnet18": "resnet18",
    "resnet18_tdann": "resnet18",
    "gpt_neo": "gpt_neo",
    "nanogpt": "nanogpt",
    "nanogpt_16k": "nanogpt",
}


def _write(directory, name, rows, columns):
    pd.DataFrame(rows, columns=columns).to_csv(directory / name, index=False)


def _metrics(directory, name, rows):
    """rows: (model, tau, metric, value), seed 0."""
    _write(directory, name, [(m, t, 0, k, v) for m, t, k, v in rows], ["model", "tau", "seed", "metric", "value"])


def _row(table, item, quantity):
    rows = table[(table["item"] == item) & (table.quantity == quantity)]
    assert len(rows) == 1, (
        f"{item} / {quantity}: {len(rows)} rows; quantities {list(table[table['item'] == item].quantity)}"
    )
    return rows.iloc[0]


def test_numbers_keep_three_significant_digits():
    assert [num(0.32), num(0.0640310), num(2798.98), num(-0.2), num(1.55e-4), num(0)] == [
        "0.320",
        "0.0640",
        "2799",
        "-0.200",
        "1.55e-04",
        "0",
    ]
    assert [count(16384), count(3324352, 4), count(1e10)] == ["16.4k", "3.324M", "10.0B"]


def test_empty_tables_dir_gives_every_item_in_order_all_not_measured(tmp_path):
    table = compare(tmp_path, FAMILIES)
    assert list(table.columns) == ["item", "id", "quantity", "paper", "this_run", "note"]
    blocks = [item for i, item in enumerate(table["item"]) if i == 0 or table["item"].iloc[i - 1] != item]
    assert blocks == [item.name for item in ITEMS]  # each item once, as one block, in paper order
    assert (table.fillna("") != "").all().all()  # no blank cell
    measured = table[table["item"] != "Figure 1"]
    assert (measured.this_run == NOT_MEASURED).all()
    table_1 = table[table["item"] == "Table 1"].set_index("quantity")
    assert "0.7116 / 0.3038 / 0.2923 / 0.5723" in table_1.paper["TopoNet-ResNet18 tau 10 (resnet18)"]
    assert "evaluation.brainscore" in table_1.note["TopoNet-ResNet18 tau 10 (resnet18)"]
    assert "tdann experiment" in table_1.note["TDANN (tdann)"]
    voxel = table[table["item"] == "Unit-to-voxel (§3.4)"]
    assert voxel.note.str.contains("NSD betas").any()
    assert "Figure 5A" in _row(table, "Figure 1", "schematic").note


def test_figure_3_reports_the_correlations_written(tmp_path):
    _write(
        tmp_path,
        "dimensionality_correlations.csv",
        [
            ("r_dim_top1", 0.12345),
            ("p_dim_top1", 0.045),
            ("r_dim_smoothness", -0.9),
            ("p_dim_smoothness", 0.001),
            ("fisher_z", 2.5),
            ("p_fisher_z", 0.0124),
            ("r_top1_smoothness", -0.2),
            ("steiger_z", 3.1),
            ("p_steiger_z", 0.00194),
            ("n_models", 8.0),
        ],
        ["quantity", "value"],
    )
    table = compare(tmp_path, FAMILIES)
    assert (
        _row(table, "Figure 3", "r, p: effective dim vs top1 (vision)").this_run
        == "r = 0.123, p = 0.0450 (n = 8 models)"
    )
    assert (
        _row(table, "Figure 3", "r, p: effective dim vs smoothness (vision)").this_run
        == "r = -0.900, p = 0.00100 (n = 8 models)"
    )
    assert _row(table, "Figure 3", "Fisher z, p (vision)").this_run == "z = 2.50, p = 0.0124"
    steiger = _row(table, "Figure 3", "Steiger z, p (vision)")  # beside the paper's Fisher z, answering its entry
    assert steiger.this_run == "z = 3.10, p = 0.00194" and "r(top1, smoothness) = -0.200" in steiger.note
    assert steiger.paper == _row(table, "Figure 3", "Fisher z, p (vision)").paper
    language = _row(table, "Figure 3", "dimensionality vs smoothness (language)")
    assert language.this_run == NOT_MEASURED and "language_dimensionality_correlations.csv" in language.note


def test_vision_series_average_seeds_and_borrow_the_family_baseline(tmp_path):
    rows = [
        ("resnet18", 0, 0, "top1", 0.328),
        ("resnet18", 1, 0, "top1", 0.31),
        ("resnet18", 1, 1, "top1", 0.33),
        ("resnet18", 50, 0, "top1", 0.278),
        ("resnet18_tdann", 10, 0, "top1", 0.3),
    ]
    rows += [(m, t, s, "smoothness", 0.5) for m, t, s, _, _ in rows]
    _write(tmp_path, "vision_metrics.csv", rows, ["model", "tau", "seed", "metric", "value"])
    table = compare(tmp_path, FAMILIES)
    assert (
        _row(table, "Figure 2", "2A ImageNet top-1 (resnet18)").this_run
        == "resnet18 tau 0 / 1 / 50: 0.328 / 0.320 / 0.278"
    )
    change = _row(table, "Figure 2", "2A top-1 change from baseline (resnet18)")
    assert change.this_run == "resnet18 tau 1 / 50: -0.800 / -5.00 points (-2.44% / -15.2%)"
    tdann = _row(table, "Figure 2", "2A top-1 change from baseline (resnet18_tdann)")
    assert (
        tdann.this_run.startswith("resnet18_tdann tau 10: -2.80 points")
        and tdann.note == "baseline: resnet18 tau 0 (top-1 0.328)"
    )
    assert tdann.paper == change.paper  # both answer the paper's ResNet-18 entry
    assert _row(table, "Figure 2", "2B BLiMP (gpt_neo)").this_run == NOT_MEASURED


def test_smoothness_falls_back_to_the_mean_over_layers(tmp_path):
    _metrics(tmp_path, "vision_metrics.csv", [("resnet18", 0, "top1", 0.5), ("resnet18", 5, "top1", 0.4)])
    _write(
        tmp_path,
        "smoothness_layers.csv",
        [
            ("resnet18", 0, 0, "a", 0.1),
            ("resnet18", 0, 0, "b", 0.3),
            ("resnet18", 5, 0, "a", 0.5),
            ("resnet18", 5, 0, "b", 0.7),
        ],
        ["model", "tau", "seed", "layer", "smoothness"],
    )
    table = compare(tmp_path, FAMILIES)
    assert _row(table, "Figure 2", "2A smoothness (resnet18)").this_run == "resnet18 tau 0 / 5: 0.200 / 0.600"


def test_smoothness_floor_beside_every_compared_smoothness(tmp_path):
    rows = [("resnet18", t, m, v) for t, m, v in [(0, "top1", 0.5), (5, "top1", 0.4), (0, "smoothness", 0.2),
                                                   (5, "smoothness", 0.6), (0, "smoothness_floor", 0.021),
                                                   (5, "smoothness_floor", 0.019)]]
    _metrics(tmp_path, "vision_metrics.csv", rows)
    _metrics(tmp_path, "language_metrics.csv", [("gpt_neo", 0, "blimp", 0.6), ("gpt_neo", 0, "smoothness", 0.07),
                                                ("gpt_neo", 0, "smoothness_floor", 0.01)])
    table = compare(tmp_path, FAMILIES)
    vision = _row(table, "Figure 2", "2A smoothness (resnet18)")
    assert vision.this_run == "resnet18 tau 0 / 5: 0.200 / 0.600; floor 0.0210 / 0.0190"
    assert "shuffled places" in vision.note
    assert _row(table, "Figure 2", "2B smoothness (gpt_neo)").this_run == "gpt_neo tau 0: 0.0700; floor 0.0100"


def test_pruning_and_downsampling_read_the_right_level(tmp_path):
    _write(
        tmp_path,
        "pruning_curves.csv",
        [
            ("resnet18", t, 0, f, "top1", 0.3, c)
            for t, f, c in [(0, 0.5, -0.1), (0, 0.9, -0.2), (1, 0.5, -0.3), (1, 0.9, -0.1), (5, 0.9, -0.25)]
        ],
        ["model", "tau", "seed", "fraction", "metric", "value", "change"],
    )
    _write(
        tmp_path,
        "downsampling_curves.csv",
        [
            ("gpt_neo", t, 0, f, p, p / 125.2e6, "val_loss", 3.0, c)
            for t, f, p, c in [
                (0, 1, 125.2e6, 0.0),
                (0, 5, 102.3e6, 0.5),
                (0, 10, 90e6, 0.9),
                (5, 1, 125.2e6, 0.0),
                (5, 5, 102.3e6, 0.1),
                (5, 10, 90e6, 0.2),
            ]
        ],
        ["model", "tau", "seed", "factor", "parameters", "parameters_kept", "metric", "value", "change"],
    )
    table = compare(tmp_path, FAMILIES)
    pruning = _row(table, "Figure 4", "4A change in top1 at fraction 0.9 (resnet18)")
    assert (
        pruning.this_run
        == "resnet18 tau 0 / 1 / 5: -0.200 / -0.100 / -0.250; TopoNets losing less than the baseline: tau 1"
    )
    assert _row(table, "Figure 4", "4B parameters at factor 5 (gpt_neo)").this_run == "125.2M -> 102.3M (-18.3%)"
    assert (
        _row(table, "Figure 4", "4B change in val_loss at factor 5 (gpt_neo)").this_run
        == "gpt_neo tau 0 / 5: +0.500 / +0.100"
    )
    assert _row(table, "Figure 10", "parameters (nanogpt)").this_run == NOT_MEASURED


def test_figure_5a_takes_the_toponet_nearest_tau_10_at_the_last_layer(tmp_path):
    columns = [
        "model",
        "tau",
        "seed",
        "weights",
        "layer",
        "pair",
        "first",
        "second",
        "ssim",
        "win_size",
        "r",
        "ssim_shuffled",
    ]
    rows = [
        ("resnet18", t, 0, w, layer, "face_place", "faces", "places", s, 3, 0.1, 0.01)
        for t, w, s in [(0, "trained", 0.2), (5, "trained", -0.4), (50, "trained", 0.9), (0, "untrained", 0.05)]
        for layer in ("layer1.0.conv1", "layer4.1.conv2")
    ]
    rows = [r if r[4] == "layer4.1.conv2" else r[:8] + (0.0,) + r[9:] for r in rows]  # the early layer says 0
    _write(tmp_path, "selectivity_ssim.csv", rows, columns)
    table = compare(tmp_path, FAMILIES)
    row = _row(table, "Figure 5", "5A SSIM face-place (resnet18)")
    assert row.this_run == (
        "tau 5: -0.400 (shuffled 0.0100, r 0.100); tau 0: 0.200 (shuffled 0.0100, r 0.100); "
        "untrained: 0.0500 (shuffled 0.0100, r 0.100)"
    )
    assert "layer4.1.conv2" in row.note and row.paper.startswith("-0.41")
    assert _row(table, "Figure 5", "5A SSIM face-body (resnet18)").this_run == NOT_MEASURED


def test_figure_6_groups_blimp_by_training_tokens(tmp_path):
    _metrics(
        tmp_path,
        "training.csv",
        [(m, t, "tokens", n) for m, n in (("nanogpt_16k", 16384), ("nanogpt", 32768)) for t in (0, 1)],
    )
    _metrics(
        tmp_path,
        "language_metrics.csv",
        [
            ("nanogpt_16k", 0, "blimp", 0.6),
            ("nanogpt_16k", 1, "blimp", 0.55),
            ("nanogpt", 0, "blimp", 0.7),
            ("nanogpt", 1, "blimp", 0.7),
        ],
    )
    table = compare(tmp_path, FAMILIES)
    assert (
        _row(table, "Figure 6", "BLiMP at 16.4k training tokens (nanogpt_16k)").this_run
        == "nanogpt_16k tau 0 / 1: 0.600 / 0.550"
    )
    assert (
        _row(table, "Figure 6", "BLiMP change from baseline by training tokens").this_run
        == "-0.0500 at 16.4k / 0 at 32.8k tokens"
    )


def test_lora_delta_counts_toponets_above_the_baseline(tmp_path):
    _write(
        tmp_path,
        "lora_deltas.csv",
        [
            ("nanogpt", t, 0, "shakespeare", r, 8.0, 8.0 - d, d)
            for t, r, d in [(0, 2, 0.1), (0, 4, 0.2), (1, 2, 0.3), (1, 4, 0.1), (50, 2, 0.2), (50, 4, 0.4)]
        ],
        ["model", "tau", "seed", "dataset", "rank", "val_loss_before", "val_loss_after", "delta"],
    )
    table = compare(tmp_path, FAMILIES)
    row = _row(table, "Figure 12", "LoRA delta, shakespeare (nanogpt)")
    assert (
        row.this_run
        == "nanogpt tau 0 / 1 / 50: 0.150 / 0.200 / 0.300; larger than the baseline's at 3 of 4 (tau, rank)"
    )
    assert (
        _row(table, "Figure 11", "validation loss before -> after LoRA, shakespeare (nanogpt)").this_run
        == "nanogpt tau 0 / 1 / 50: 8.000 -> 7.850 / 8.000 -> 7.800 / 8.000 -> 7.700"
    )


def test_brain_tables_fill_tables_1_2_and_unit_to_voxel(tmp_path):
    _write(
        tmp_path,
        "brainscore_regions.csv",
        [("resnet18", 0, 0.1, 0.2), ("resnet18", 5, 0.3, 0.4), ("resnet18", 50, 0.5, 0.6)],
        ["model", "tau", "V1", "IT"],
    )
    _metrics(
        tmp_path,
        "unit_voxel.csv",
        [
            ("resnet18", 0, "r_normalised", 0.5),
            ("resnet18", 5, "r_normalised", 0.61),
            ("resnet18", 0, "n_voxels", 212),
            ("resnet18", 5, "n_voxels", 212),
        ],
    )
    table = compare(tmp_path, FAMILIES)
    assert _row(table, "Table 1", "TopoNet (resnet18 tau 5)").this_run == "V1 / IT: 0.3000 / 0.4000"
    assert _row(table, "Table 2", "resnet18 tau 50").this_run == "V1 / IT: 0.5000 / 0.6000"
    assert _row(table, "Table 2", "resnet18 tau 20").this_run == NOT_MEASURED
    voxel = _row(table, "Unit-to-voxel (§3.4)", "r / noise ceiling (resnet18)")
    assert voxel.this_run == "resnet18 tau 0 / 5: 0.500 / 0.610" and "voxels 212" in voxel.note
    assert _row(table, "Unit-to-voxel (§3.4)", "r normalised to the noise ceiling (resnet50)").this_run == NOT_MEASURED


def test_measurements_the_paper_lacks_are_marked(tmp_path):
    _write(
        tmp_path,
        "pruning_curves.csv",
        [("nanogpt", 0, 0, 0.9, "val_loss", 3.0, 0.1)],
        ["model", "tau", "seed", "fraction", "metric", "value", "change"],
    )
    row = _row(compare(tmp_path, FAMILIES), "Figure 4", "4A change in val_loss at fraction 0.9 (nanogpt)")
    assert (
        row.paper == NOT_REPORTED
        and row.this_run == "nanogpt tau 0: +0.100; TopoNets losing less than the baseline: none"
        and row.id == "fig4a-pruning-nanogpt"
    )


def test_a_run_without_a_family_is_an_error(tmp_path):
    _metrics(tmp_path, "vision_metrics.csv", [("mystery", 0, "top1", 0.5)])
    with pytest.raises(ValueError, match=r"\['mystery'\].*--families"):
        compare(tmp_path, FAMILIES)


def test_cli_writes_one_file_per_item_and_the_whole_table(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    _metrics(tables, "vision_metrics.csv", [("resnet18", 0, "top1", 0.5), ("resnet18", 0, "smoothness", 0.2)])
    out, out_dir = tmp_path / "paper_vs_run.csv", tmp_path / "report"
    cli.main(
        [
            "--tables",
            str(tables),
            "--families",
            '{"resnet18": "resnet18"}',
            "--out",
            str(out),
            "--out-dir",
            str(out_dir),
        ]
    )
    whole = pd.read_csv(out)
    files = sorted(p.name for p in out_dir.iterdir())
    assert (
        files == sorted(f"{item.slug}.csv" for item in ITEMS)
        and "figure_02.csv" in files
        and "unit_to_voxel.csv" in files
    )
    parts = pd.concat([pd.read_csv(out_dir / f"{item.slug}.csv") for item in ITEMS], ignore_index=True)
    pd.testing.assert_frame_equal(parts, whole)
    assert _row(whole, "Figure 2", "2A ImageNet top-1 (resnet18)").this_run == "resnet18 tau 0: 0.500"
    with pytest.raises(SystemExit):
        cli.main(["--tables", str(tables), "--families", "[1, 2]", "--out", str(out), "--out-dir", str(out_dir)])


def test_language_curves_and_windows(tmp_path):
    _metrics(
        tmp_path,
        "language_metrics.csv",
        [
            ("gpt_neo", t, k, v)
            for t, d, ppl in [(0, 2.0, 10), (1, 2.5, 11), (5, 2.2, 12), (10, 2.1, 13), (50, 2.0, 14)]
            for k, v in (("effective_dim", d), ("perplexity", ppl))
        ],
    )
    _write(
        tmp_path,
        "smoothness_curves.csv",
        [
            ("gpt_neo", t, 0, layer, d, r, 10)
            for t, far in ((0, 0.2), (5, -0.4))
            for layer in ("h.0", "h.1")
            for d, r in ((0.5, 0.6), (1.0, None), (2.0, far))
        ],
        ["model", "tau", "seed", "layer", "distance", "r", "pairs"],
    )
    _write(
        tmp_path,
        "integration_window_units.csv",
        [
            ("gpt_neo", 0, 0, layer, u, 0, u, 0.1, b, c)
            for layer, b, c in (("h.0", 9.0, 0.1), ("h.1", 2.0, 0.7))
            for u in range(3)
        ],
        ["model", "tau", "seed", "layer", "unit", "row", "col", "a", "b", "c"],
    )
    table = compare(tmp_path, FAMILIES)
    assert (
        _row(table, "Figure 9", "effective dimensionality (gpt_neo)").this_run
        == "gpt_neo tau 0 / 1 / 5 / 10 / 50: 2.00 / 2.50 / 2.20 / 2.10 / 2.00"
    )
    assert _row(table, "Figure 9", "r effective dimensionality vs perplexity, tau >= 5 (gpt_neo)").this_run.startswith(
        "r = -1.00, p = "
    )  # tau 5, 10, 50 only: exactly linear
    assert (
        _row(table, "Figure 7", "r at nearest minus farthest distance bin (gpt_neo)").this_run
        == "gpt_neo tau 0 / 5: 0.400 / 1.00"
    )
    assert _row(table, "Figure 8", "median c by layer (gpt_neo tau 0)").this_run == "layers 0-1: 0.100 / 0.700"
    assert (
        _row(table, "Figure 5", "5B median c, power-law weight (gpt_neo)").note
        == "needs evaluation.integration_windows on GPT-Neo (integration_windows.csv)"
    )


def test_tdann_rows_say_this_run_where_the_run_has_tdann(tmp_path):
    """Table 1, Figure 2A/3A and the unit-to-voxel line (§3.1, §3.4) compare TopoNets with TDANN: a run of family
    tdann answers those rows, its top-1 a linear readout's (TDANN is self-supervised)."""
    families = {**FAMILIES, "tdann": "tdann"}
    _metrics(tmp_path, "vision_metrics.csv", [("tdann", 0, "smoothness", 0.2), ("tdann", 0, "smoothness_floor", 0.01),
                                              ("tdann", 0, "effective_dim", 7.5), ("tdann", 0, "top1", 0.25)])
    _write(tmp_path, "brainscore_regions.csv", [("tdann", 0, 0, 0.5, 0.25, 0.125, 0.375)],
           ["model", "tau", "seed", "V1", "V2", "V4", "IT"])
    _metrics(tmp_path, "unit_voxel.csv", [("tdann", 0, "r_normalised", 0.5)])
    table = compare(tmp_path, families)
    smooth = _row(table, "Figure 2", "2A smoothness (tdann)")
    assert smooth.this_run.startswith("tdann tau 0: 0.200") and "TDANN" in smooth.paper
    assert _row(table, "Figure 3", "effective dimensionality (tdann)").this_run == "tdann tau 0: 7.50"
    top1 = _row(table, "Figure 2", "2A ImageNet top-1 (tdann)")
    assert top1.this_run == "tdann tau 0: 0.250" and "linear readout" in top1.note and "TDANN" in top1.paper
    assert "linear readout" in _row(compare(tmp_path / "none", families), "Figure 2", "2A ImageNet top-1 (tdann)").note
    table_1 = _row(table, "Table 1", "TDANN (tdann)")
    assert table_1.this_run == "V1 / V2 / V4 / IT: 0.5000 / 0.2500 / 0.1250 / 0.3750"
    assert table_1.paper.startswith("V1 / V2 / V4 / IT: 0.6932")
    assert _row(table, "Table 2", "tdann tau 0").paper == table_1.paper
    assert _row(table, "Unit-to-voxel (§3.4)", "r / noise ceiling (tdann)").this_run == "tdann tau 0: 0.500"
    assert not (table.this_run == NOT_REPORTED).any()


def test_comparison_rows_give_the_mean_and_the_seed_spread():
    """Issue "the small preset": comparison rows give mean and spread where a tau has several seeds."""
    table = pd.DataFrame([("r", 0.0, 0, "top1", 0.30), ("r", 0.0, 1, "top1", 0.34), ("r", 5.0, 0, "top1", 0.2)],
                         columns=["model", "tau", "seed", "metric", "value"])
    runs = per_run(table, "top1")
    assert runs.value.tolist() == pytest.approx([0.32, 0.2]) and runs.spread.iloc[0] == pytest.approx(0.02)
    assert series("r", runs) == "r tau 0 / 5: 0.320 ± 0.020 / 0.200"


# ---------------------------------------------------------------- ids: paper_numbers.yaml <-> the item modules


def _yaml_with(tmp_path, old: str, new: str):
    """A copy of paper_numbers.yaml with `old` replaced by `new` (which must be there)."""
    text = PAPER_NUMBERS.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "paper_numbers.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_ids_are_unique_and_a_duplicate_is_an_error(tmp_path):
    ids = [entry.id for entries in read_paper_numbers().values() for entry in entries]
    assert len(ids) == len(set(ids)) and "fig2a-top1-resnet18" in ids
    twice = _yaml_with(tmp_path, "  - id: fig7-r-drop\n", "  - id: fig6-blimp-by-tokens-nanogpt\n")
    with pytest.raises(ValueError, match=r"id 'fig6-blimp-by-tokens-nanogpt' appears twice \(under Figure 6 and Figure 7\)"):
        read_paper_numbers(twice)


def test_the_yaml_lists_exactly_the_ids_each_item_module_declares():
    numbers = paper_numbers()  # checks it, else raises
    for item in ITEMS:
        measured = [entry.id for entry in numbers[item.name] if entry.measured]
        assert sorted(measured) == sorted(item.ids), item.slug
    never = [entry.id for entries in numbers.values() for entry in entries if not entry.measured]
    assert never == ["fig2-prior-models", "fig3-tdann-as-published"]  # drawn as published, never measured here


def test_a_measured_id_the_yaml_lacks_is_an_error(tmp_path, monkeypatch):
    typo = [Measured("fig7-r-dorp", "r drop (x)", "x tau 0: 1.00")]
    items = [replace(item, measure=lambda tables: typo) if item.slug == "figure_07" else item for item in ITEMS]
    monkeypatch.setattr(comparison, "ITEMS", items)
    with pytest.raises(ValueError, match=r"figure_07 measured id 'fig7-r-dorp'.*paper_numbers\.yaml"):
        compare(tmp_path, FAMILIES)


def test_a_yaml_id_no_module_declares_is_an_error(tmp_path):
    extra = _yaml_with(tmp_path, "Figure 8:\n", "  - {id: fig7-r-rise, quantity: r rise, paper: none}\nFigure 8:\n")
    with pytest.raises(ValueError, match=r"figure_07\.IDS lacks ids that .*paper_numbers\.yaml lists under Figure 7"
                                         r".*\['fig7-r-rise'\]"):
        compare(tmp_path, FAMILIES, path=extra)
    assert figure_07.IDS == ("fig7-r-drop",)
    lacking = _yaml_with(tmp_path, "  - id: fig7-r-drop\n", "  - id: fig7-r-fall\n")
    with pytest.raises(ValueError, match=r"figure_07\.IDS declares ids that .* does not list .*\['fig7-r-drop'\]"):
        paper_numbers(lacking)


FAMILIES_ALL = {**FAMILIES, "resnet50": "resnet50", "tdann": "tdann"}


def _every_table(directory):
    """One table of each kind the comparison reads, for every item; runs of families the paper's entries lack
    too (pruning of NanoGPT, LoRA of GPT-Neo, Brain-Score of tau 2 and of ResNet-50)."""
    vision = [("resnet18", 0, 0, "top1", 0.328), ("resnet18", 1, 0, "top1", 0.31), ("resnet18", 1, 1, "top1", 0.33),
              ("resnet18", 50, 0, "top1", 0.278), ("resnet18_tdann", 10, 0, "top1", 0.3),
              ("resnet50", 0, 0, "top1", 0.4), ("resnet50", 5, 0, "top1", 0.35), ("tdann", 0, 0, "top1", 0.25)]
    vision += [(m, t, s, "smoothness", 0.5 + t / 100) for m, t, s, _, _ in vision]
    vision += [(m, t, s, "smoothness_floor", 0.02) for m, t, s, k, _ in vision if k == "smoothness"]
    vision += [("tdann", 0, 0, "effective_dim", 7.5)]
    _write(directory, "vision_metrics.csv", vision, ["model", "tau", "seed", "metric", "value"])
    _metrics(directory, "language_metrics.csv",
             [("gpt_neo", t, k, v) for t, d, ppl, b in [(0, 2.0, 10, 0.6), (1, 2.5, 11, 0.61), (5, 2.2, 12, 0.58),
                                                         (10, 2.05, 13, 0.57), (50, 2.0, 14, 0.55)]
              for k, v in (("effective_dim", d), ("perplexity", ppl), ("blimp", b), ("smoothness", 0.1 + t / 100))]
             + [("nanogpt_16k", 0, "blimp", 0.6), ("nanogpt_16k", 1, "blimp", 0.55), ("nanogpt", 0, "blimp", 0.7),
                ("nanogpt", 1, "blimp", 0.7), ("nanogpt", 0, "smoothness", 0.05), ("nanogpt", 1, "smoothness", 0.3)])
    _write(directory, "dimensionality_correlations.csv",
           [("r_dim_top1", 0.12345), ("p_dim_top1", 0.045), ("r_dim_smoothness", -0.9), ("p_dim_smoothness", 0.001),
            ("fisher_z", 2.5), ("p_fisher_z", 0.0124), ("r_top1_smoothness", -0.2), ("steiger_z", 3.1),
            ("p_steiger_z", 0.00194), ("n_models", 8.0)], ["quantity", "value"])
    _write(directory, "pruning_curves.csv",
           [("resnet18", t, 0, f, "top1", 0.3, c)
            for t, f, c in [(0, 0.5, -0.1), (0, 0.9, -0.2), (1, 0.5, -0.3), (1, 0.9, -0.1), (5, 0.9, -0.25)]]
           + [("nanogpt", 0, 0, 0.9, "val_loss", 3.0, 0.1)],
           ["model", "tau", "seed", "fraction", "metric", "value", "change"])
    _write(directory, "downsampling_curves.csv",
           [(m, t, 0, f, p, p / 125.2e6, k, 3.0, c)
            for m in ("gpt_neo", "nanogpt")
            for t, f, p, c in [(0, 1, 125.2e6, 0.0), (0, 5, 102.3e6, 0.5), (0, 10, 90e6, 0.9), (5, 1, 125.2e6, 0.0),
                               (5, 5, 102.3e6, 0.1), (5, 10, 90e6, 0.2)]
            for k in ("val_loss", "blimp")],
           ["model", "tau", "seed", "factor", "parameters", "parameters_kept", "metric", "value", "change"])
    _write(directory, "selectivity_ssim.csv",
           [("resnet18", t, 0, w, layer, pair, "a", "b", s if layer == "layer4.1.conv2" else 0.0, 3, 0.1, 0.01)
            for t, w, s in [(0, "trained", 0.2), (5, "trained", -0.4), (50, "trained", 0.9), (0, "untrained", 0.05)]
            for layer in ("layer1.0.conv1", "layer4.1.conv2") for pair in ("face_place", "size_animacy")],
           ["model", "tau", "seed", "weights", "layer", "pair", "first", "second", "ssim", "win_size", "r",
            "ssim_shuffled"])
    _metrics(directory, "training.csv",
             [(m, t, "tokens", n) for m, n in (("nanogpt_16k", 16384), ("nanogpt", 32768)) for t in (0, 1)])
    _write(directory, "smoothness_curves.csv",
           [("gpt_neo", t, 0, layer, d, r, 10) for t, far in ((0, 0.2), (5, -0.4)) for layer in ("h.0", "h.1")
            for d, r in ((0.5, 0.6), (1.0, None), (2.0, far))],
           ["model", "tau", "seed", "layer", "distance", "r", "pairs"])
    _write(directory, "integration_window_units.csv",
           [("gpt_neo", t, 0, layer, u, 0, u, 0.1, b + t, c) for t in (0, 5)
            for layer, b, c in (("h.0", 9.0, 0.1), ("h.1", 2.0, 0.7)) for u in range(3)],
           ["model", "tau", "seed", "layer", "unit", "row", "col", "a", "b", "c"])
    _metrics(directory, "integration_windows.csv",
             [("gpt_neo", t, k, v + t) for t in (0, 5)
              for k, v in (("window_c_median", 0.3), ("window_b_median", 4.0), ("yoking_median", 0.1))])
    _write(directory, "lora_deltas.csv",
           [(m, t, 0, "shakespeare", r, 8.0, 8.0 - d, d) for m in ("nanogpt", "gpt_neo")
            for t, r, d in [(0, 2, 0.1), (0, 4, 0.2), (1, 2, 0.3), (1, 4, 0.1), (50, 2, 0.2), (50, 4, 0.4)]],
           ["model", "tau", "seed", "dataset", "rank", "val_loss_before", "val_loss_after", "delta"])
    _write(directory, "brainscore_regions.csv",
           [("resnet18", 0, 0, 0.1, 0.2), ("resnet18", 5, 0, 0.3, 0.4), ("resnet18", 50, 0, 0.5, 0.6),
            ("resnet18", 2, 0, 0.2, 0.3), ("resnet50", 1, 0, 0.4, 0.5), ("tdann", 0, 0, 0.35, 0.45)],
           ["model", "tau", "seed", "V1", "IT"])
    _metrics(directory, "brainscore.csv", [("resnet18", 0, "V1", 0.1), ("resnet18", 0, "local_v1", 0.1)])
    _metrics(directory, "unit_voxel.csv",
             [("resnet18", 0, "r_normalised", 0.5), ("resnet18", 5, "r_normalised", 0.61),
              ("resnet18", 0, "n_voxels", 212), ("resnet18", 5, "n_voxels", 212),
              ("tdann", 0, "r_normalised", 0.45), ("tdann", 0, "ceiling", 0.8)])


# (id, quantity, this_run) of every measured row of _every_table, in order: the former paper_comparison.py's
# rows (before the comparison became a package, issue #15), with the id each answers
EVERY_TABLE_ROWS = [
    ("fig1-schematic", "schematic", "schematic, nothing to measure"),
    ("fig2a-top1-resnet18", "2A ImageNet top-1 (resnet18)", "resnet18 tau 0 / 1 / 50: 0.328 / 0.320 / 0.278"),
    ("fig2a-top1-resnet18", "2A ImageNet top-1 (resnet18_tdann)", "resnet18_tdann tau 10: 0.300"),
    ("fig2a-top1-resnet50", "2A ImageNet top-1 (resnet50)", "resnet50 tau 0 / 5: 0.400 / 0.350"),
    ("fig2a-top1-change-resnet18", "2A top-1 change from baseline (resnet18)",
     "resnet18 tau 1 / 50: -0.800 / -5.00 points (-2.44% / -15.2%)"),
    ("fig2a-top1-change-resnet18", "2A top-1 change from baseline (resnet18_tdann)",
     "resnet18_tdann tau 10: -2.80 points (-8.54%)"),
    ("fig2a-smoothness-resnet18", "2A smoothness (resnet18)",
     "resnet18 tau 0 / 1 / 50: 0.500 / 0.510 / 1.00; floor 0.0200 / 0.0200 / 0.0200"),
    ("fig2a-smoothness-resnet18", "2A smoothness (resnet18_tdann)", "resnet18_tdann tau 10: 0.600; floor 0.0200"),
    ("fig2a-smoothness-resnet50", "2A smoothness (resnet50)",
     "resnet50 tau 0 / 5: 0.500 / 0.550; floor 0.0200 / 0.0200"),
    ("fig2a-top1-tdann", "2A ImageNet top-1 (tdann)", "tdann tau 0: 0.250"),
    ("fig2a-smoothness-tdann", "2A smoothness (tdann)", "tdann tau 0: 0.500; floor 0.0200"),
    ("fig2b-blimp-gpt_neo", "2B BLiMP (gpt_neo)",
     "gpt_neo tau 0 / 1 / 5 / 10 / 50: 0.600 / 0.610 / 0.580 / 0.570 / 0.550"),
    ("fig2b-blimp-nanogpt", "2B BLiMP (nanogpt)", "nanogpt tau 0 / 1: 0.700 / 0.700"),
    ("fig2b-smoothness-gpt_neo", "2B smoothness (gpt_neo)",
     "gpt_neo tau 0 / 1 / 5 / 10 / 50: 0.100 / 0.110 / 0.150 / 0.200 / 0.600"),
    ("fig2b-smoothness-nanogpt", "2B smoothness (nanogpt)", "nanogpt tau 0 / 1: 0.0500 / 0.300"),
    ("fig2a-top1-change-resnet50", "2A top-1 change from baseline (resnet50)",
     "resnet50 tau 5: -5.00 points (-12.5%)"),
    ("fig3-dim-vs-performance-vision", "r, p: effective dim vs top1 (vision)",
     "r = 0.123, p = 0.0450 (n = 8 models)"),
    ("fig3-dim-vs-smoothness-vision", "r, p: effective dim vs smoothness (vision)",
     "r = -0.900, p = 0.00100 (n = 8 models)"),
    ("fig3-fisher-z-vision", "Fisher z, p (vision)", "z = 2.50, p = 0.0124"),
    ("fig3-fisher-z-vision", "Steiger z, p (vision)", "z = 3.10, p = 0.00194"),
    ("fig3-effective-dim-tdann", "effective dimensionality (tdann)", "tdann tau 0: 7.50"),
    ("fig4a-pruning-resnet18", "4A change in top1 at fraction 0.9 (resnet18)",
     "resnet18 tau 0 / 1 / 5: -0.200 / -0.100 / -0.250; TopoNets losing less than the baseline: tau 1"),
    ("fig4b-parameters-gpt_neo", "4B parameters at factor 5 (gpt_neo)", "125.2M -> 102.3M (-18.3%)"),
    ("fig4b-change-val_loss-gpt_neo", "4B change in val_loss at factor 5 (gpt_neo)",
     "gpt_neo tau 0 / 5: +0.500 / +0.100"),
    ("fig4b-change-blimp-gpt_neo", "4B change in blimp at factor 5 (gpt_neo)", "gpt_neo tau 0 / 5: +0.500 / +0.100"),
    ("fig4a-pruning-nanogpt", "4A change in val_loss at fraction 0.9 (nanogpt)",
     "nanogpt tau 0: +0.100; TopoNets losing less than the baseline: none"),
    ("fig5a-ssim-face-place-resnet18", "5A SSIM face-place (resnet18)",
     "tau 5: -0.400 (shuffled 0.0100, r 0.100); tau 0: 0.200 (shuffled 0.0100, r 0.100); "
     "untrained: 0.0500 (shuffled 0.0100, r 0.100)"),
    ("fig5a-ssim-size-animacy-resnet18", "5A SSIM size-animacy (resnet18)",
     "tau 5: -0.400 (shuffled 0.0100, r 0.100); tau 0: 0.200 (shuffled 0.0100, r 0.100); "
     "untrained: 0.0500 (shuffled 0.0100, r 0.100)"),
    ("fig5b-median-c-gpt_neo", "5B median c, power-law weight (gpt_neo)", "gpt_neo tau 0 / 5: 0.300 / 5.30"),
    ("fig5b-median-b-gpt_neo", "5B median b, exponential rate (gpt_neo)", "gpt_neo tau 0 / 5: 4.00 / 9.00"),
    ("fig5b-median-yoking-gpt_neo", "5B median sentence-yoking index (gpt_neo)", "gpt_neo tau 0 / 5: 0.100 / 5.10"),
    ("fig6-blimp-by-tokens-nanogpt", "BLiMP at 16.4k training tokens (nanogpt_16k)",
     "nanogpt_16k tau 0 / 1: 0.600 / 0.550"),
    ("fig6-blimp-by-tokens-nanogpt", "BLiMP at 32.8k training tokens (nanogpt)", "nanogpt tau 0 / 1: 0.700 / 0.700"),
    ("fig6-blimp-change-by-tokens-nanogpt", "BLiMP change from baseline by training tokens",
     "-0.0500 at 16.4k / 0 at 32.8k tokens"),
    ("fig7-r-drop", "r at nearest minus farthest distance bin (gpt_neo)", "gpt_neo tau 0 / 5: 0.400 / 1.00"),
    ("fig8-median-c-gpt_neo", "median c by layer (gpt_neo tau 0)", "layers 0-1: 0.100 / 0.700"),
    ("fig8-median-c-gpt_neo", "median c by layer (gpt_neo tau 5)", "layers 0-1: 0.100 / 0.700"),
    ("fig8-median-b-gpt_neo", "median b by layer (gpt_neo tau 0)", "layers 0-1: 9.00 / 2.00"),
    ("fig8-median-b-gpt_neo", "median b by layer (gpt_neo tau 5)", "layers 0-1: 14.0 / 7.00"),
    ("fig9-effective-dim-gpt_neo", "effective dimensionality (gpt_neo)",
     "gpt_neo tau 0 / 1 / 5 / 10 / 50: 2.00 / 2.50 / 2.20 / 2.05 / 2.00"),
    ("fig9-perplexity-gpt_neo", "perplexity (gpt_neo)",
     "gpt_neo tau 0 / 1 / 5 / 10 / 50: 10.0 / 11.0 / 12.0 / 13.0 / 14.0"),
    ("fig9-r-dim-perplexity-gpt_neo", "r effective dimensionality vs perplexity, tau >= 5 (gpt_neo)",
     "r = -0.961, p = 0.179 (n = 3)"),
    ("fig10-parameters-nanogpt", "parameters at factor 5 (nanogpt)", "125.2M -> 102.3M (-18.3%)"),
    ("fig10-change-val_loss-nanogpt", "change in val_loss at factor 5 (nanogpt)",
     "nanogpt tau 0 / 5: +0.500 / +0.100"),
    ("fig10-change-blimp-nanogpt", "change in blimp at factor 5 (nanogpt)", "nanogpt tau 0 / 5: +0.500 / +0.100"),
    ("fig11-lora-loss-nanogpt", "validation loss before -> after LoRA, shakespeare (nanogpt)",
     "nanogpt tau 0 / 1 / 50: 8.000 -> 7.850 / 8.000 -> 7.800 / 8.000 -> 7.700"),
    ("fig11-lora-loss-gpt_neo", "validation loss before -> after LoRA, shakespeare (gpt_neo)",
     "gpt_neo tau 0 / 1 / 50: 8.000 -> 7.850 / 8.000 -> 7.800 / 8.000 -> 7.700"),
    ("fig12-lora-delta-nanogpt", "LoRA delta, shakespeare (nanogpt)",
     "nanogpt tau 0 / 1 / 50: 0.150 / 0.200 / 0.300; larger than the baseline's at 3 of 4 (tau, rank)"),
    ("fig12-lora-delta-gpt_neo", "LoRA delta, shakespeare (gpt_neo)",
     "gpt_neo tau 0 / 1 / 50: 0.150 / 0.200 / 0.300; larger than the baseline's at 3 of 4 (tau, rank)"),
    ("tab1-toponet-resnet18", "TopoNet (resnet18 tau 5)", "V1 / IT: 0.3000 / 0.4000"),
    ("tab1-tdann", "TDANN (tdann)", "V1 / IT: 0.3500 / 0.4500"),
    ("tab2-tau0-resnet18", "resnet18 tau 0", "V1 / IT: 0.1000 / 0.2000"),
    ("tab2-tau5-resnet18", "resnet18 tau 5", "V1 / IT: 0.3000 / 0.4000"),
    ("tab2-tau50-resnet18", "resnet18 tau 50", "V1 / IT: 0.5000 / 0.6000"),
    ("tab2-tdann", "tdann tau 0", "V1 / IT: 0.3500 / 0.4500"),
    ("tab2-other-resnet18", "resnet18 tau 2", "V1 / IT: 0.2000 / 0.3000"),
    ("tab2-other-resnet50", "resnet50 tau 1", "V1 / IT: 0.4000 / 0.5000"),
    ("voxel-r-normalised-resnet18", "r / noise ceiling (resnet18)", "resnet18 tau 0 / 5: 0.500 / 0.610"),
    ("voxel-r-normalised-tdann", "r / noise ceiling (tdann)", "tdann tau 0: 0.450"),
]


def test_rows_are_those_of_the_single_module_comparison(tmp_path):
    """Each item's module gives the rows the former single-module comparison gave on the same tables, and each
    row answers the paper's entry with its id (its paper column is that entry's, or "not reported")."""
    _every_table(tmp_path)
    table = compare(tmp_path, FAMILIES_ALL)
    measured = table[table.this_run != NOT_MEASURED]
    assert list(zip(measured.id, measured.quantity, measured.this_run)) == EVERY_TABLE_ROWS
    papers = {e.id: e.paper or NOT_REPORTED for entries in read_paper_numbers().values() for e in entries}
    assert table.paper.tolist() == [papers[i] for i in table.id]
    assert len(table) == 74 and (table[table.paper == NOT_REPORTED].this_run != NOT_MEASURED).all()
