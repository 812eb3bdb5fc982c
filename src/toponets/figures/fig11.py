"""Figure 11: validation loss during LoRA fine-tuning (appendix A.11).

Reads the tidy LoRA curves table (model, tau, dataset, rank, step, val_loss;
any further run column such as seed is averaged over, the band spanning the
seeds). One row of panels per
fine-tuning data set (Shakespeare, Python code), one column per LoRA rank
(and per model, when the table holds several experiments); one line per tau,
the baseline black. Step 0 is the loss before fine-tuning.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from . import style

COLUMNS = ("model", "tau", "dataset", "rank", "step", "val_loss")


def require(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Refuse a table that lacks any of `columns`, naming them."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the {name} table lacks columns {missing}; it needs {', '.join(columns)}")


def rank_panels(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with a `panel` column: "rank r", prefixed by the model when there are several models."""
    rank = "rank " + table["rank"].astype(int).astype(str)
    return table.assign(panel=rank if table.model.nunique() == 1 else table.model.astype(str) + " · " + rank)


def draw(curves: pd.DataFrame) -> Figure:
    require(curves, COLUMNS, "LoRA curves")
    panels = rank_panels(curves).sort_values(["model", "rank", "step"])
    style.setup()
    grid = sns.relplot(
        data=panels, x="step", y="val_loss", hue="tau", row="dataset", col="panel", kind="line", marker="o",
        errorbar=style.SEED_RANGE, palette=style.tau_palette(panels["tau"]), height=2.8, aspect=1.1,
        facet_kws={"sharey": "row", "margin_titles": True},
    )
    grid.set_axis_labels("LoRA fine-tuning step", "Validation loss (nats)")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    return grid.figure


def plot(curves: pd.DataFrame, outputs: list[str | Path]) -> None:
    style.save(draw(curves), outputs)
