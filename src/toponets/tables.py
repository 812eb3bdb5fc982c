"""Tidy tables from per-checkpoint evaluation outputs.

Evaluation files live at ``.../eval/<analysis>/<model>/tau<tau>/seed<seed>.<ext>``;
the path names the run, so a table row gets (model, tau, seed) from it.
Metric tables have one row per model x tau x seed x metric; curve tables
add the run columns to the curve's own columns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .io import atomic_path

_RUN_PATH = re.compile(r"(?P<analysis>[^/]+)/(?P<model>[^/]+)/tau(?P<tau>[0-9.e+-]+)/seed(?P<seed>\d+)\.[a-z]+$")


def run_of(path: str | Path) -> dict:
    """{analysis, model, tau, seed} named by an evaluation output path."""
    match = _RUN_PATH.search(Path(path).as_posix())
    if not match:
        raise ValueError(f"{path} is not an evaluation output path of the form <analysis>/<model>/tau<tau>/seed<seed>.<ext>")
    run = match.groupdict()
    return {**run, "tau": float(run["tau"]), "seed": int(run["seed"])}


_TRAIN_PATH = re.compile(r"(?P<model>[^/]+)/tau(?P<tau>[0-9.e+-]+)/seed(?P<seed>\d+)/metrics\.jsonl$")
FINAL_TRAINING_METRICS = ("val_acc", "val_top5", "val_loss", "val_acc_ema", "loss", "ce", "topo", "step", "tokens")


def training_table(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run and final training metric, from training logs ``<model>/tau<tau>/seed<seed>/metrics.jsonl``.

    Each metric's value is its last logged one (validation metrics are logged at evaluations only).
    """
    rows = []
    for path in paths:
        match = _TRAIN_PATH.search(Path(path).as_posix())
        if not match:
            raise ValueError(f"{path} is not a training log path of the form <model>/tau<tau>/seed<seed>/metrics.jsonl")
        last: dict = {}
        for line in Path(path).read_text().splitlines():
            last.update(json.loads(line))
        run = {"model": match["model"], "tau": float(match["tau"]), "seed": int(match["seed"])}
        rows += [{**run, "metric": m, "value": float(last[m])} for m in FINAL_TRAINING_METRICS if m in last]
    return pd.DataFrame(rows, columns=["model", "tau", "seed", "metric", "value"])


def metrics_table(paths: list[str | Path]) -> pd.DataFrame:
    """One row per run and metric from evaluation JSON files ``{"metrics": {name: value}}``."""
    rows = []
    for path in paths:
        run = run_of(path)
        for metric, value in json.loads(Path(path).read_text())["metrics"].items():
            rows.append({"model": run["model"], "tau": run["tau"], "seed": run["seed"], "metric": metric, "value": value})
    return pd.DataFrame(rows, columns=["model", "tau", "seed", "metric", "value"])


def per_layer_table(paths: list[str | Path], metric: str) -> pd.DataFrame:
    """One row per run and layer from evaluation JSON files ``{"per_layer": {layer: value}}``; a file's
    further ``"per_layer_<x>"`` mappings (smoothness: ``per_layer_floor``) become columns ``<metric>_<x>``."""
    rows, columns = [], [metric]
    for path in paths:
        run = run_of(path)
        report = json.loads(Path(path).read_text())
        extra = {f"{metric}_{key[len('per_layer_'):]}": values for key, values in report.items()
                 if key.startswith("per_layer_")}
        columns += [c for c in extra if c not in columns]
        for layer, value in report["per_layer"].items():
            row = {"model": run["model"], "tau": run["tau"], "seed": run["seed"], "layer": layer, metric: value}
            rows.append({**row, **{c: values.get(layer) for c, values in extra.items()}})
    return pd.DataFrame(rows, columns=["model", "tau", "seed", "layer", *columns])


def curves_table(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate per-run curve CSVs, with the run's model, tau and seed in front."""
    frames = []
    for path in paths:
        run = run_of(path)
        frame = pd.read_csv(path)
        frames.append(frame.assign(model=run["model"], tau=run["tau"], seed=run["seed"]))
    table = pd.concat(frames, ignore_index=True)
    front = ["model", "tau", "seed"]
    return table[front + [c for c in table.columns if c not in front]]


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
