"""Unit-to-voxel correspondence (§3.4): the one-to-one assignment's r, normalised to the noise ceiling, of the
vision models (the paper: NSD, 8 subjects; this preset: evaluation.unit_voxel.neural)."""

from __future__ import annotations

from ..model_spec import VISION
from .format import num, series
from .run_tables import Measured, Tables, of, per_run

NAME = "Unit-to-voxel (§3.4)"
IDS = tuple(f"voxel-r-normalised-{f}" for f in VISION)


def measure(tables: Tables) -> list[Measured]:
    table = tables.get("unit_voxel.csv", ("model", "tau", "metric", "value"))
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table):
        runs = of(table, exp)
        normalised = per_run(runs, "r_normalised")
        if normalised.empty:
            continue
        facts = [
            f"{name} {num(per_run(runs, metric).value.mean())}"
            for name, metric in (("voxels", "n_voxels"), ("ceiling", "ceiling"))
            if (runs.metric == metric).any()
        ]
        rows.append(
            Measured(
                f"voxel-r-normalised-{tables.families[exp]}",
                f"r / noise ceiling ({exp})",
                series(exp, normalised),
                "mean noise-ceiling-corrected r of the one-to-one assignment / the same between subjects "
                "(Margalit et al.); this preset's data set (evaluation.unit_voxel.neural; mini: Allen VISp, "
                "neuron-to-neuron ceiling; paper: NSD, 8 subjects)"
                + (f"; {', '.join(facts)}" if facts else ""),
            )
        )
    return rows
