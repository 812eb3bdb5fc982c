"""Figure 1, the schematic: nothing to measure; its maps are measured by Figures 5A, 7 and 8."""

from __future__ import annotations

from .run_tables import Measured, Tables

NAME = "Figure 1"
IDS = ("fig1-schematic",)


def measure(tables: Tables) -> list[Measured]:
    return [
        Measured(
            "fig1-schematic",
            "schematic",
            "schematic, nothing to measure",
            "its maps are measured in Figure 5A (selectivity), Figure 8 (integration windows) "
            "and Figure 7 (correlation vs distance)",
        )
    ]
