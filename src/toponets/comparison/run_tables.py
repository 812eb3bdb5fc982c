"""This run's side of the comparison: the tidy tables an item reads (`Tables`), what an item returns
(`Measured`), and the reductions several items share. Values are means over seeds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

PAPER_TAU = 10.0  # the TopoNet of the paper's Figure 5A and Table 1

# What each table needs, for the note of a row it could not fill.
TABLE_NEEDS = {
    "vision_metrics.csv": "needs the accuracy and smoothness evaluations of vision experiments (vision_metrics.csv)",
    "language_metrics.csv": (
        "needs lm_loss, blimp, smoothness and dimensionality of language experiments (language_metrics.csv)"
    ),
    "dimensionality_correlations.csv": (
        "needs the dimensionality evaluation of the vision experiments (dimensionality_correlations.csv)"
    ),
    "language_dimensionality_correlations.csv": (
        "needs the dimensionality evaluation of the language experiments (language_dimensionality_correlations.csv)"
    ),
    "pruning_curves.csv": "needs evaluation.pruning (pruning_curves.csv)",
    "downsampling_curves.csv": "needs evaluation.downsampling (downsampling_curves.csv)",
    "selectivity_ssim.csv": "needs evaluation.selectivity on a ResNet-18 experiment (selectivity_ssim.csv)",
    "integration_windows.csv": "needs evaluation.integration_windows on GPT-Neo (integration_windows.csv)",
    "integration_window_units.csv": "needs evaluation.integration_windows on GPT-Neo (integration_window_units.csv)",
    "training.csv": "needs the training logs table (training.csv)",
    "smoothness_curves.csv": "needs the smoothness evaluation (smoothness_curves.csv)",
    "lora_deltas.csv": "needs evaluation.lora (lora_deltas.csv)",
    "brainscore_regions.csv": (
        "needs evaluation.brainscore and the public Brain-Score benchmarks (network access); "
        "see README 'Brain-likeness'"
    ),
    "unit_voxel.csv": (
        "needs evaluation.unit_voxel (unit_voxel.csv); the paper's numbers need NSD betas "
        "(data.neural.nsd, data-use agreement)"
    ),
}


@dataclass(frozen=True)
class Measured:
    """One measurement of this run: the id of the paper's entry it answers (paper_numbers.yaml), its row label
    (naming the experiment, so two experiments of one family get two rows) and its compact value."""

    id: str
    quantity: str
    this_run: str
    note: str = ""


class Tables:
    """The tables directory and the experiment -> family map; remembers which tables an item missed."""

    def __init__(self, tables: str | Path | list[str | Path], families: dict[str, str]):
        if isinstance(tables, (str, Path)):
            tables = sorted(Path(tables).glob("*.csv"))
        self.paths = {Path(t).name: Path(t) for t in tables}
        self.families = dict(families)
        self.missing: list[tuple[str, str]] = []  # (table, the part of the item's ids it serves)
        self._read: dict[str, pd.DataFrame] = {}

    def get(self, name: str, columns: tuple[str, ...] = ("model", "tau"), serves: str = "") -> pd.DataFrame | None:
        """Table `name`, or None when the preset did not make it: then the item's entries whose id contains
        `serves` (all when empty) are noted as needing it."""
        path = self.paths.get(name)
        if path is None or not path.is_file():
            self.missing.append((name, serves))
            return None
        if name not in self._read:
            table = pd.read_csv(path)
            if "model" in table.columns:
                unknown = sorted(set(table.model) - set(self.families))
                if unknown:
                    raise ValueError(
                        f"{path} has runs of {unknown}, which the families map does not name; "
                        "add them to --families as {experiment: family}"
                    )
            self._read[name] = table
        lacking = [c for c in columns if c not in self._read[name].columns]
        if lacking:
            raise ValueError(f"{path} lacks columns {lacking}; it has {list(self._read[name].columns)}")
        return self._read[name]

    def has(self, name: str) -> bool:
        return name in self.paths and self.paths[name].is_file()

    def experiments(self, table: pd.DataFrame, *families: str) -> list[str]:
        """Experiments of `families` (all when none given) that have rows in `table`, in the families map's order."""
        present = set(table.model)
        return [m for m, f in self.families.items() if m in present and (not families or f in families)]


def per_run(table: pd.DataFrame, metric: str | None = None, value: str = "value") -> pd.DataFrame:
    """Mean of `value` over seeds per model x tau, for one `metric` of a tidy metrics table (or all rows);
    `spread`, half the range over seeds, where a model x tau has more than one seed (else NaN)."""
    if metric is not None:
        table = table[table.metric == metric]
    groups = table.groupby(["model", "tau"])[value]
    means = groups.mean().rename(value).to_frame()
    seeds = table.groupby(["model", "tau"]).seed.nunique() if "seed" in table else groups.size() * 0 + 1
    means["spread"] = ((groups.max() - groups.min()) / 2).where(seeds > 1)
    return means.reset_index().sort_values(["model", "tau"])


def of(table: pd.DataFrame, experiment: str) -> pd.DataFrame:
    return table[table.model == experiment]


def nearest_tau(taus, target: float = PAPER_TAU) -> float:
    """The TopoNet tau (> 0) nearest `target`; ties go to the smaller."""
    return min((t for t in taus if t > 0), key=lambda t: (abs(t - target), t))


def performance_metrics(tables: Tables, name: str, metrics: tuple[str, ...], serves: str = "") -> pd.DataFrame | None:
    """model, tau and a column per metric (means over seeds) from metrics table `name`."""
    table = tables.get(name, ("model", "tau", "metric", "value"), serves)
    if table is None:
        return None
    wide = table[table.metric.isin(metrics)].pivot_table(index=["model", "tau"], columns="metric", values="value")
    return wide.reindex(columns=list(metrics)).reset_index().rename_axis(columns=None)
