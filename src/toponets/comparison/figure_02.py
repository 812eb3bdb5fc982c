"""Figure 2: accuracy against smoothness, ImageNet top-1 of the vision TopoNets and TDANN (2A; with each
TopoNet's top-1 change from its family's baseline, §3.1) and BLiMP of the language TopoNets (2B)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..model_spec import LANGUAGE, NO_CLASSIFIER, VISION
from .format import num, series, signed
from .run_tables import Measured, Tables, of, per_run, performance_metrics

NAME = "Figure 2"
CLASSIFIED = tuple(f for f in VISION if f not in NO_CLASSIFIER)  # top-1 of their own head; the rest: a readout's
IDS = (
    *(f"fig2a-top1-{f}" for f in VISION),
    *(f"fig2a-top1-change-{f}" for f in CLASSIFIED),
    *(f"fig2a-smoothness-{f}" for f in VISION),
    *(f"fig2b-{quantity}-{f}" for quantity in ("blimp", "smoothness") for f in LANGUAGE),
)
FLOOR_NOTE = "floor: the score of the same responses with the units at shuffled places (no spatial structure)"
READOUT_NOTE = "a linear readout of its pooled features (TDANN is self-supervised; analysis/linear_readout.py)"


def metric_rows(
    wide: pd.DataFrame, tables: Tables, experiments: list[str], metric: str, id_prefix: str, label: str,
    floor: str | None = None,
) -> list[Measured]:
    """A per-tau series of `metric` per experiment, answering id '<id_prefix>-<family>'; with the `floor`
    column's series after it when the table has one."""
    rows = []
    for exp in experiments:
        runs = of(wide, exp).dropna(subset=[metric])
        if runs.empty:
            continue
        value, note = series(exp, runs, metric), ""
        if floor in runs.columns and runs[floor].notna().all():
            value += "; floor " + " / ".join(num(v) for v in runs.sort_values("tau")[floor])
            note = FLOOR_NOTE
        rows.append(Measured(f"{id_prefix}-{tables.families[exp]}", f"{label} ({exp})", value, note))
    return rows


def baseline_of(table: pd.DataFrame, tables: Tables, experiment: str, value: str) -> tuple[float, str] | None:
    """The tau-0 value of `experiment`, else of another experiment of its family (and which run it is)."""
    family = tables.families[experiment]
    for candidate in [experiment] + [m for m, f in tables.families.items() if f == family and m != experiment]:
        base = table[(table.model == candidate) & (table.tau == 0)]
        if not base.empty:
            return float(base[value].iloc[0]), f"{candidate} tau 0"
    return None


def _top1_changes(vision: pd.DataFrame, tables: Tables, experiments: list[str]) -> list[Measured]:
    """Change of each TopoNet's top-1 from its family's baseline, in points and relative."""
    rows = []
    measured = vision.dropna(subset=["top1"])
    for exp in experiments:
        topo = of(measured, exp)[lambda t: t.tau > 0]
        base = baseline_of(measured, tables, exp, "top1")
        if base is None or topo.empty:
            continue
        value, run = base
        topo = topo.assign(points=100 * (topo.top1 - value), relative=100 * (topo.top1 - value) / value)
        relative = " / ".join(signed(v) + "%" for v in topo.relative)
        rows.append(
            Measured(
                f"fig2a-top1-change-{tables.families[exp]}",
                f"2A top-1 change from baseline ({exp})",
                f"{series(exp, topo, 'points', signed)} points ({relative})",
                f"baseline: {run} (top-1 {num(value)})",
            )
        )
    return rows


def _vision_smoothness(tables: Tables, wide: pd.DataFrame) -> pd.DataFrame:
    """Smoothness (and floor) per vision run: the metrics table's, else the mean over layers of smoothness_layers.csv."""
    if wide.smoothness.notna().any() or not tables.has("smoothness_layers.csv"):
        return wide
    layers = tables.get("smoothness_layers.csv", ("model", "tau", "smoothness"))
    means = per_run(layers, value="smoothness").drop(columns="spread")
    if "smoothness_floor" in layers.columns:
        means = means.merge(per_run(layers, value="smoothness_floor").drop(columns="spread"), on=["model", "tau"])
    return wide.drop(columns=["smoothness", "smoothness_floor"]).merge(means, on=["model", "tau"], how="left")


def measure(tables: Tables) -> list[Measured]:
    rows = []
    vision = performance_metrics(tables, "vision_metrics.csv", ("top1", "smoothness", "smoothness_floor"), "fig2a-")
    if vision is not None:
        vision = _vision_smoothness(tables, vision)
        classified = tables.experiments(vision, *CLASSIFIED)
        readout = tables.experiments(vision, *NO_CLASSIFIER)
        rows += metric_rows(vision, tables, classified, "top1", "fig2a-top1", "2A ImageNet top-1")
        rows += [replace(m, note=READOUT_NOTE)
                 for m in metric_rows(vision, tables, readout, "top1", "fig2a-top1", "2A ImageNet top-1")]
        rows += _top1_changes(vision, tables, classified)
        rows += metric_rows(vision, tables, classified + readout, "smoothness", "fig2a-smoothness", "2A smoothness",
                            "smoothness_floor")
    language = performance_metrics(tables, "language_metrics.csv", ("blimp", "smoothness", "smoothness_floor"), "fig2b-")
    if language is not None:
        plotted = language.dropna(subset=["blimp", "smoothness"])  # Figure 2B plots BLiMP against smoothness
        experiments = tables.experiments(plotted, *LANGUAGE)
        rows += metric_rows(plotted, tables, experiments, "blimp", "fig2b-blimp", "2B BLiMP")
        rows += metric_rows(plotted, tables, experiments, "smoothness", "fig2b-smoothness", "2B smoothness",
                            "smoothness_floor")
    return rows
