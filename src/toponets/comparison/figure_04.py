"""Figure 4: TopoNets keep more of their performance when compressed, by L1 pruning of weights (4A) and by
downsampling GPT-Neo's c_fc layers (4B; NanoGPT's: Figure 10). Downsampling is read at factor 5 (the paper's
"80%") when measured, else at the largest factor."""

from __future__ import annotations

from ..experiments import tau_label
from ..model_spec import FAMILIES
from .format import count, series, signed
from .run_tables import Measured, Tables, of, per_run

NAME = "Figure 4"
DOWNSAMPLING_METRICS = ("val_loss", "blimp")  # those of cli/downsampling.py


def downsampling_ids(figure: str, family: str) -> tuple[str, ...]:
    """The ids `downsampling` answers for `figure` and `family`."""
    return (f"{figure}-parameters-{family}", *(f"{figure}-change-{m}-{family}" for m in DOWNSAMPLING_METRICS))


IDS = (*(f"fig4a-pruning-{f}" for f in FAMILIES), *downsampling_ids("fig4b", "gpt_neo"))


def _losing_less(change, metric: str) -> list[float]:
    """TopoNet taus whose performance fell less than the baseline's (accuracy drops, losses rise)."""
    sign = 1.0 if metric in ("val_loss", "perplexity", "loss") else -1.0
    loss = change.assign(loss=sign * change.value)
    base = loss[loss.tau == 0]
    if base.empty:
        return []
    return [t for t, v in zip(loss.tau, loss.loss) if t > 0 and v < float(base.loss.iloc[0])]


def _pruning(tables: Tables) -> list[Measured]:
    table = tables.get("pruning_curves.csv", ("model", "tau", "fraction", "metric", "change"), serves="fig4a-")
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table):
        runs = of(table, exp)
        for metric in dict.fromkeys(runs.metric):
            curves = runs[runs.metric == metric]
            fraction = curves.fraction.max()
            change = per_run(curves[curves.fraction == fraction], value="change").rename(columns={"change": "value"})
            taus = _losing_less(change, metric)
            better = "tau " + ", ".join(map(tau_label, taus)) if taus else "none"
            verdict = f"; TopoNets losing less than the baseline: {better}" if (change.tau == 0).any() else ""
            rows.append(
                Measured(
                    f"fig4a-pruning-{tables.families[exp]}",
                    f"4A change in {metric} at fraction {fraction:g} ({exp})",
                    series(exp, change, fmt=signed) + verdict,
                )
            )
    return rows


def downsampling(tables: Tables, figure: str, family: str, label: str) -> list[Measured]:
    """Parameters and the change of each metric at the read factor, per experiment of `family`: ids
    `downsampling_ids(figure, family)`, row labels starting with `label`."""
    table = tables.get(
        "downsampling_curves.csv", ("model", "tau", "factor", "parameters", "metric", "change"), f"{figure}-"
    )
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, family):
        runs = of(table, exp)
        factor = 5.0 if (runs.factor == 5).any() else runs.factor.max()
        before, after = (
            runs[runs.factor == runs.factor.min()].parameters.iloc[0],
            runs[runs.factor == factor].parameters.iloc[0],
        )
        rows.append(
            Measured(
                f"{figure}-parameters-{family}",
                f"{label}parameters at factor {factor:g} ({exp})",
                f"{count(before, 4)} -> {count(after, 4)} ({signed(100 * (after - before) / before)}%)",
            )
        )
        for metric in dict.fromkeys(runs.metric):
            change = per_run(runs[(runs.factor == factor) & (runs.metric == metric)], value="change")
            rows.append(
                Measured(
                    f"{figure}-change-{metric}-{family}",
                    f"{label}change in {metric} at factor {factor:g} ({exp})",
                    series(exp, change, "change", signed),
                )
            )
    return rows


def measure(tables: Tables) -> list[Measured]:
    return _pruning(tables) + downsampling(tables, "fig4b", "gpt_neo", "4B ")
