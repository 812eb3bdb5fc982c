"""Shared look of the paper's figures and atomic saving as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import SymLogNorm  # noqa: E402

from ..io import atomic_path  # noqa: E402

TAU_PALETTE = "viridis"  # TopoNets' tau increases from dark to light
BASELINE = "black"  # tau 0, the non-topographic model, as in the paper


def tau_palette(taus: pd.Series) -> dict[float, object]:
    """Colour per tau: the baseline black, the others along TAU_PALETTE on a symmetric log scale
    (linear near 0) so that the small values stay apart."""
    norm = SymLogNorm(linthresh=0.5, vmin=0, vmax=max(float(taus.max()), 1.0))
    cmap = plt.get_cmap(TAU_PALETTE)
    return {tau: BASELINE if tau == 0 else cmap(norm(tau)) for tau in sorted(taus.unique())}


def setup() -> None:
    sns.set_theme(context="paper", style="ticks", font_scale=1.1)


def save(fig: plt.Figure, outputs: list[str | Path]) -> None:
    """Save `fig` to each output path (format from the suffix), atomically, then close it."""
    for out in outputs:
        out = Path(out)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lstrip("."), bbox_inches="tight", dpi=200)
    plt.close(fig)


SEED_RANGE = ("pi", 100)  # seaborn's errorbar: from the lowest to the highest seed (no band with one seed)


def seed_ranges(ax, points, x: str, y: str) -> None:
    """Bars over the seed range (min to max, `<metric>_low/_high` of `tidy.wide_metrics`) of the points with
    more than one seed, behind the points."""
    several = points[points["seeds"] > 1]
    if several.empty:
        return
    xerr = [several[x] - several[f"{x}_low"], several[f"{x}_high"] - several[x]]
    yerr = [several[y] - several[f"{y}_low"], several[f"{y}_high"] - several[y]]
    ax.errorbar(several[x], several[y], xerr=xerr, yerr=yerr, fmt="none", ecolor="0.5", elinewidth=1, capsize=2,
                zorder=1, label="seed range")
