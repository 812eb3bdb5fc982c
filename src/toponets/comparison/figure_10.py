"""Figure 10: Figure 4B's downsampling on NanoGPT; tau 50 keeps its performance best."""

from __future__ import annotations

from .figure_04 import downsampling, downsampling_ids
from .run_tables import Measured, Tables

NAME = "Figure 10"
IDS = downsampling_ids("fig10", "nanogpt")


def measure(tables: Tables) -> list[Measured]:
    return downsampling(tables, "fig10", "nanogpt", "")
