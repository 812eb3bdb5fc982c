"""Figure 11: LoRA fine-tuning of the language models on new data sets lowers every model's validation loss."""

from __future__ import annotations

from ..experiments import tau_label
from ..model_spec import LANGUAGE
from .format import num
from .run_tables import Measured, Tables, of

NAME = "Figure 11"
IDS = tuple(f"fig11-lora-loss-{f}" for f in LANGUAGE)


def lora_runs(tables: Tables):
    """(experiment, fine-tuning data set, its rows of lora_deltas.csv), for each pair the table has."""
    deltas = tables.get(
        "lora_deltas.csv", ("model", "tau", "dataset", "rank", "val_loss_before", "val_loss_after", "delta")
    )
    if deltas is None:
        return
    for exp in tables.experiments(deltas):
        for dataset, runs in of(deltas, exp).groupby("dataset"):
            yield exp, dataset, runs


def measure(tables: Tables) -> list[Measured]:
    rows = []
    for exp, dataset, runs in lora_runs(tables):
        means = runs.groupby("tau", as_index=False)[["val_loss_before", "val_loss_after"]].mean()
        text = " / ".join(
            f"{num(b, 4)} -> {num(a, 4)}" for b, a in zip(means.val_loss_before, means.val_loss_after)
        )
        rows.append(
            Measured(
                f"fig11-lora-loss-{tables.families[exp]}",
                f"validation loss before -> after LoRA, {dataset} ({exp})",
                f"{exp} tau {' / '.join(map(tau_label, means.tau))}: {text}",
                "mean over ranks",
            )
        )
    return rows
