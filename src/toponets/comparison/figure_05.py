"""Figure 5: the maps TopoNets grow. 5A, the SSIM between category-selectivity maps of the TopoNet-ResNet-18
nearest the paper's tau 10 (at the last mapped layer, the one Figure 5A draws), beside tau 0 and untrained
weights; 5B, GPT-Neo's temporal integration windows."""

from __future__ import annotations

from ..experiments import tau_label
from .format import num, series
from .run_tables import Measured, Tables, nearest_tau, of, per_run

NAME = "Figure 5"
PAIRS = {"face_place": "face-place", "face_body": "face-body", "size_animacy": "size-animacy"}
WINDOWS = {  # integration_windows.csv metric -> (id part, row label)
    "window_c_median": ("median-c", "median c, power-law weight"),
    "window_b_median": ("median-b", "median b, exponential rate"),
    "yoking_median": ("median-yoking", "median sentence-yoking index"),
}
IDS = (*(f"fig5a-ssim-{label}-resnet18" for label in PAIRS.values()),
       *(f"fig5b-{part}-gpt_neo" for part, _ in WINDOWS.values()))


def _ssim(tables: Tables) -> list[Measured]:
    table = tables.get(
        "selectivity_ssim.csv", ("model", "tau", "weights", "layer", "pair", "ssim", "r", "ssim_shuffled"), "fig5a-"
    )
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, "resnet18"):
        runs = of(table, exp)
        trained = runs[runs.weights == "trained"]
        if not (trained.tau > 0).any():
            continue
        tau = nearest_tau(trained.tau.unique())
        layer = trained[trained.tau == tau].layer.iloc[-1]
        columns = [
            (f"tau {tau_label(tau)}", trained[trained.tau == tau]),
            ("tau 0", trained[trained.tau == 0]),
            ("untrained", runs[runs.weights == "untrained"]),
        ]
        for pair, label in PAIRS.items():
            parts = []
            for name, selected in columns:
                at = selected[(selected.layer == layer) & (selected.pair == pair)]
                if not at.empty:
                    parts.append(
                        f"{name}: {num(at.ssim.mean())} (shuffled {num(at.ssim_shuffled.mean())}, r {num(at.r.mean())})"
                    )
            if parts:
                rows.append(
                    Measured(
                        f"fig5a-ssim-{label}-resnet18",
                        f"5A SSIM {label} ({exp})",
                        "; ".join(parts),
                        f"layer {layer} (the last mapped layer, the one Figure 5A draws); SSIM of the two maps "
                        f"each scaled to [0, 1]; tau {tau_label(tau)} is the TopoNet nearest the paper's 10; "
                        "shuffled: both maps' units at the same random places",
                    )
                )
    return rows


def _windows(tables: Tables) -> list[Measured]:
    table = tables.get("integration_windows.csv", ("model", "tau", "metric", "value"), "fig5b-")
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, "gpt_neo"):
        for metric, (part, label) in WINDOWS.items():
            runs = per_run(of(table, exp), metric)
            if not runs.empty:
                rows.append(
                    Measured(
                        f"fig5b-{part}-gpt_neo",
                        f"5B {label} ({exp})",
                        series(exp, runs),
                        "median over all units of all c_fc layers",
                    )
                )
    return rows


def measure(tables: Tables) -> list[Measured]:
    return _ssim(tables) + _windows(tables)
