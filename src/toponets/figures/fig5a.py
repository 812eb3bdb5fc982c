"""Figure 5A: category-selectivity t-maps on the cortical sheet, untrained vs baseline vs TopoNet.

Reads the tidy maps table (model, tau, seed, weights, layer, contrast, row,
col, t) and the tidy SSIM table (model, tau, seed, weights, layer, pair,
ssim, ...) that `toponets.cli.selectivity` writes per run and
`toponets.cli.tables curves` concatenates, stacked into one table (as
`cli.figure --table MAPS.csv SSIM.csv` does): map rows are those with a
contrast, SSIM rows those with a pair. The table must hold one model.

Rows are the contrasts faces, bodies, places, animacy and size; columns are
the untrained model (weights "untrained"), the baseline (tau 0) and the
TopoNet at `tau` (the paper's 10 when present, else the largest tau), each
at its lowest seed. One layer is drawn: `layer`, by default the last layer
of the table (the deepest mapped layer; the paper shows a late one). Colours
are a diverging map centred at 0, symmetric about 0 in each panel with its
own colour bar (t scales differ across contrasts: fLoc domains have 288 vs
1,152 images, the Konkle contrasts 60 vs 60); the structural similarities of
that layer head each column.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import style

CONTRAST_ROWS = ("faces", "bodies", "places", "animacy", "size")
PAIR_LABELS = {"face_body": "face–body", "face_place": "face–place", "size_animacy": "size–animacy"}
PAPER_TAU = 10.0
CMAP = "RdBu_r"


def split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The map rows and the SSIM rows of a stacked table, of its one model."""
    if "contrast" not in table or "pair" not in table:
        raise ValueError("fig5a needs the maps and the SSIM table of cli.selectivity: --table MAPS.csv SSIM.csv")
    maps, ssim = table[table.contrast.notna()], table[table.pair.notna()]
    if maps.empty or ssim.empty:
        raise ValueError(f"fig5a got {len(maps)} map rows and {len(ssim)} SSIM rows; it needs both tables")
    models = table.model.unique()
    if len(models) != 1:
        raise ValueError(f"the tables hold models {sorted(models)}; keep one (figure --models NAME)")
    return maps, ssim


def columns(maps: pd.DataFrame, tau: float | None = None) -> list[tuple[str, dict]]:
    """(title, run selector) of each column that the maps table has: untrained, baseline, TopoNet."""
    trained = maps[maps.weights == "trained"]
    topo_taus = sorted(trained.tau[trained.tau > 0].unique())
    if tau is None and topo_taus:
        tau = PAPER_TAU if PAPER_TAU in topo_taus else topo_taus[-1]
    candidates = [
        ("Untrained", maps.weights == "untrained"),
        ("Baseline (τ 0)", (maps.weights == "trained") & (maps.tau == 0)),
        (f"TopoNet (τ {tau:g})" if tau is not None else "TopoNet", (maps.weights == "trained") & (maps.tau == tau)),
    ]
    selected = []
    for title, rows in candidates:
        if rows.any():
            run = maps[rows].sort_values(["tau", "seed"]).iloc[0]
            selected.append((title, {"weights": run.weights, "tau": run.tau, "seed": run.seed}))
    if not selected:
        raise ValueError("the maps table has no untrained, baseline (tau 0) or TopoNet run")
    return selected


def _rows_of(table: pd.DataFrame, run: dict, layer: str) -> pd.DataFrame:
    keep = (table.weights == run["weights"]) & (table.tau == run["tau"]) & (table.seed == run["seed"])
    return table[keep & (table.layer == layer)]


def sheet_map(maps: pd.DataFrame) -> np.ndarray:
    """(h, w) array of one contrast's t-values from its tidy rows."""
    rows, cols = maps.row.to_numpy().astype(int), maps.col.to_numpy().astype(int)  # float after stacking tables
    grid = np.full((rows.max() + 1, cols.max() + 1), np.nan)
    grid[rows, cols] = maps.t.to_numpy()
    return grid


def ssim_caption(ssim: pd.DataFrame) -> str:
    values = dict(zip(ssim.pair, ssim.ssim))
    return "\n".join(f"SSIM {label} {values[pair]:.2f}" for pair, label in PAIR_LABELS.items() if pair in values)


def plot(table: pd.DataFrame, outputs: list[str | Path], layer: str | None = None, tau: float | None = None) -> None:
    maps, ssim = split(table)
    model = maps.model.iloc[0]
    layer = layer or maps.layer.iloc[-1]
    if layer not in set(maps.layer):
        raise ValueError(f"layer '{layer}' is not in the maps table; it has {list(dict.fromkeys(maps.layer))}")
    rows = [c for c in CONTRAST_ROWS if c in set(maps.contrast)]
    cols = columns(maps, tau)
    style.setup()
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(3.4 * len(cols), 1.5 * len(rows) + 1.0), squeeze=False)
    for j, (title, run) in enumerate(cols):
        run_maps = _rows_of(maps, run, layer)
        for i, contrast in enumerate(rows):
            ax = axes[i, j]
            grid = sheet_map(run_maps[run_maps.contrast == contrast])
            limit = float(np.nanmax(np.abs(grid))) or 1.0
            image = ax.imshow(grid, cmap=CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(contrast, rotation=0, ha="right", va="center")
        axes[0, j].set_title(f"{title}\n{ssim_caption(_rows_of(ssim, run, layer))}", fontsize=9)
    fig.suptitle(f"{model}, {layer}: selectivity (Welch t) on the cortical sheet", y=1.0)
    style.save(fig, outputs)
