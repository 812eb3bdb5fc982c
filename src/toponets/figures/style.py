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
