"""Tidy tables from per-checkpoint evaluation outputs and training logs.

Each output names the run it comes from: evaluation JSON reports in their
``"run"`` object, evaluation CSVs in columns model, tau and seed, training
logs in each record's ``"run"`` (see `checkpoints.run_identity`); a table row
gets (model, tau, seed) from there, never from the file's name or folder.
Metric tables have one row per model x tau x seed x metric; curve tables
add the run columns to the curve's own columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .io import atomic_path

RUN_COLUMNS = ["model", "tau", "seed"]


def _no_identity(path: str | Path, what: str) -> ValueError:
    return ValueError(f"{path} has no {what} naming its run (model, tau, seed): it was written by an older "
                      "version; rerun its job")


def _run(run: Any, path: str | Path, what: str) -> dict:
    """(model, tau, seed) of an output's recorded run, typed as in the tables."""
    if not isinstance(run, dict) or any(key not in run for key in RUN_COLUMNS):
        raise _no_identity(path, what)
    return {"model": str(run["model"]), "tau": float(run["tau"]), "seed": int(run["seed"])}


FINAL_TRAINING_METRICS = ("val_acc", "val_top5", "val_loss", "val_acc_ema", "loss", "ce", "topo", "step", "tokens")


def training_table(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run and final training metric, from training logs (JSON lines, each with its ``"run"``).

    Each metric's value is its last logged one (validation metrics are logged at evaluations only).
    """
    rows = []
    for path in paths:
        last: dict = {}
        for line in Path(path).read_text().splitlines():
            last.update(json.loads(line))
        run = _run(last.get("run"), path, '"run" in its records')
        rows += [{**run, "metric": m, "value": float(last[m])} for m in FINAL_TRAINING_METRICS if m in last]
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "metric", "value"])


def metrics_table(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run and metric from evaluation JSON files ``{"run": {...}, "metrics": {name: value}}``."""
    rows = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        run = _run(report.get("run"), path, '"run" object')
        for metric, value in report["metrics"].items():
            rows.append({**run, "metric": metric, "value": value})
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "metric", "value"])


def per_layer_table(paths: list[str | Path], metric: str) -> pd.DataFrame:
    """One row per run and layer from evaluation JSON files ``{"run": {...}, "per_layer": {layer: value}}``;
    a file's further ``"per_layer_<x>"`` mappings (smoothness: ``per_layer_floor``) become columns ``<metric>_<x>``."""
    rows, columns = [], [metric]
    for path in paths:
        report = json.loads(Path(path).read_text())
        run = _run(report.get("run"), path, '"run" object')
        extra = {f"{metric}_{key[len('per_layer_'):]}": values for key, values in report.items()
                 if key.startswith("per_layer_")}
        columns += [c for c in extra if c not in columns]
        for layer, value in report["per_layer"].items():
            row = {**run, "layer": layer, metric: value}
            rows.append({**row, **{c: values.get(layer) for c, values in extra.items()}})
    return pd.DataFrame(rows, columns=[*RUN_COLUMNS, "layer", *columns])


def curves_table(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate per-run curve CSVs, each with its run's model, tau and seed columns, those in front."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype={"model": str})
        if any(c not in frame.columns for c in RUN_COLUMNS):
            raise _no_identity(path, "columns model, tau and seed")
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).astype({"tau": float, "seed": int})
    return table[RUN_COLUMNS + [c for c in table.columns if c not in RUN_COLUMNS]]


LORA_CURVE_VALUES = ("step", "val_loss")  # a LoRA curves table's own columns; every other column names the run


def lora_delta_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per run of a tidy curves table (model, tau, seed, dataset, rank, step, val_loss, ...): its
    val_loss_before (at the first step), val_loss_after (at the last) and delta = before - after."""
    missing = [c for c in LORA_CURVE_VALUES if c not in curves.columns]
    if missing:
        raise ValueError(f"curves table lacks columns {missing}; it has {list(curves.columns)}")
    run = [c for c in curves.columns if c not in LORA_CURVE_VALUES]
    if not run:
        raise ValueError("curves table has no columns naming the run (model, tau, dataset, rank, ...)")
    ordered = curves.sort_values("step").groupby(run, sort=True, dropna=False)["val_loss"]
    table = pd.concat({"val_loss_before": ordered.first(), "val_loss_after": ordered.last()}, axis=1).reset_index()
    return table.assign(delta=table.val_loss_before - table.val_loss_after)


BRAIN_REGIONS = ("V1", "V2", "V4", "IT")


def region_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Brain-Score in the paper's layout (Tables 1-2): one row per model x tau, a column per region (mean over seeds)."""
    regions = metrics[metrics.metric.isin(BRAIN_REGIONS)]
    if regions.empty:
        raise ValueError(f"the metrics table has none of the regions {BRAIN_REGIONS}; is it a brainscore table?")
    wide = regions.pivot_table(index=["model", "tau"], columns="metric", values="value", aggfunc="mean")
    return wide[[r for r in BRAIN_REGIONS if r in wide.columns]].reset_index().rename_axis(columns=None)


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
