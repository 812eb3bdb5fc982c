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

TAU_PALETTE = "viridis"  # tau increases from dark to light, baseline (tau 0) darkest


def tau_norm(taus: pd.Series) -> SymLogNorm:
    """Colour scale for tau that separates the small values: symmetric log around 0."""
    return SymLogNorm(linthresh=0.5, vmin=0, vmax=max(float(taus.max()), 1.0))


def setup() -> None:
    sns.set_theme(context="paper", style="ticks", font_scale=1.1)


def save(fig: plt.Figure, outputs: list[str | Path]) -> None:
    """Save `fig` to each output path (format from the suffix), atomically, then close it."""
    for out in outputs:
        out = Path(out)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lstrip("."), bbox_inches="tight", dpi=200)
    plt.close(fig)
