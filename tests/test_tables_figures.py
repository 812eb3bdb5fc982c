"""Tidy tables from evaluation outputs and the Figure 2A module."""

import json

import numpy as np
import pandas as pd
import pytest

from toponets.figures.fig2a import pareto_front, plot, topography_vs_performance
from toponets.tables import curves_table, metrics_table, per_layer_table, run_of


def test_pareto_front_of_known_points():
    x = np.array([0.1, 0.2, 0.3, 0.25, 0.05, 0.3])
    y = np.array([0.9, 0.8, 0.5, 0.4, 0.95, 0.6])
    # (0.3, 0.6) beats (0.3, 0.5); (0.25, 0.4) is beaten by (0.3, 0.6); the rest trade off
    assert pareto_front(x, y).tolist() == [4, 0, 1, 5]


def test_run_is_read_from_the_path():
    assert run_of("results/eval/smoothness/resnet18/tau0.5/seed2.json") == {
        "analysis": "smoothness", "model": "resnet18", "tau": 0.5, "seed": 2}
    with pytest.raises(ValueError, match="not an evaluation output path"):
        run_of("results/eval/smoothness.json")


def _write(tmp_path, analysis, model, tau, payload, ext="json"):
    path = tmp_path / analysis / model / f"tau{tau}" / f"seed0.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == "json":
        path.write_text(json.dumps(payload))
    else:
        payload.to_csv(path, index=False)
    return path


def test_tables_are_tidy(tmp_path):
    acc = [_write(tmp_path, "accuracy", "resnet18", t, {"metrics": {"top1": a}}) for t, a in [(0, 0.6), (5, 0.5)]]
    smo = [_write(tmp_path, "smoothness", "resnet18", t, {"metrics": {"smoothness": s}, "per_layer": {"l1": s, "l2": s / 2}})
           for t, s in [(0, 0.1), (5, 0.4)]]
    table = metrics_table(acc + smo)
    assert list(table.columns) == ["model", "tau", "seed", "metric", "value"]
    assert len(table) == 4
    wide = topography_vs_performance(table, "top1")
    assert wide.set_index("tau").loc[5.0, "smoothness"] == 0.4
    layers = per_layer_table(smo, "smoothness")
    assert layers.query("tau == 5 and layer == 'l2'").smoothness.item() == 0.2
    curve = pd.DataFrame({"layer": ["l1", "l1"], "distance": [0.5, 1.5], "r": [0.3, 0.1], "pairs": [4, 2]})
    curves = curves_table([_write(tmp_path, "smoothness", "resnet18", 5, curve, ext="csv")])
    assert list(curves.columns[:4]) == ["model", "tau", "seed", "layer"] and len(curves) == 2


def test_fig2a_draws_png_and_pdf(tmp_path):
    table = pd.DataFrame(
        [("resnet18", t, 0, m, v) for t, a, s in [(0, 0.6, 0.1), (1, 0.58, 0.2), (50, 0.4, 0.5)]
         for m, v in [("top1", a), ("smoothness", s)]],
        columns=["model", "tau", "seed", "metric", "value"],
    )
    outputs = [tmp_path / "fig.png", tmp_path / "fig.pdf"]
    plot(table, outputs)
    assert all(p.stat().st_size > 1000 for p in outputs)
    assert not list(tmp_path.glob(".*part"))


def test_fig2a_explains_missing_metrics():
    table = pd.DataFrame([("m", 0.0, 0, "top1", 0.5)], columns=["model", "tau", "seed", "metric", "value"])
    with pytest.raises(ValueError, match=r"lacks \['smoothness'\]"):
        topography_vs_performance(table, "top1")
