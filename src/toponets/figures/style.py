"""Shared look of the paper's figures and atomic saving as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ..io import atomic_path  # noqa: E402

TAU_PALETTE = "viridis"  # tau increases from dark to light, baseline (tau 0) darkest


def setup() -> None:
    sns.set_theme(context="paper", style="ticks", font_scale=1.1)


def save(fig: plt.Figure, outputs: list[str | Path]) -> None:
    """Save `fig` to each output path (format from the suffix), atomically, then close it."""
    for out in outputs:
        out = Path(out)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lstrip("."), bbox_inches="tight", dpi=200)
    plt.close(fig)
