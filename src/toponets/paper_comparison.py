"""The paper's numbers next to this run's: one tidy table (item, quantity, paper, this_run, note).

Items are the paper's figures and tables in paper order (ITEMS). The paper's
side comes from ``paper_numbers.yaml`` (item -> quantity key -> text); this
run's side is computed from the workflow's tidy tables in a tables directory.
Each item is a small function that returns measurements, each answering one
paper key (the key names the model family: "... (resnet18)"); a row's
quantity names the experiment instead, so two experiments of one family get
two rows. A paper key that nothing answered gets a "not measured" row whose
note says which table (and which analysis or data) it needs; a measurement
whose key the paper lacks gets "not reported in the paper".

Conventions: values are means over seeds; numbers have 3 significant digits
(losses 4, parameter counts 4); a per-tau series reads
"resnet18 tau 0 / 1 / 5: 0.328 / 0.320 / 0.342". Choices the paper leaves
open: Figure 4B/10 are read at downsampling factor 5 (the paper's "80%")
when measured, else at the largest factor; Figure 5A and Table 1 take the
TopoNet whose tau is nearest the paper's 10 (TDANN's rows, "... (tdann)", are
those of a run of family tdann: "this run" wherever the run has TDANN's
checkpoint); Figure 5A reads the last mapped
layer (as figures/fig5a draws it); Figure 9's correlation uses the runs with
tau >= 5 (where the paper says dimensionality falls as perplexity rises).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import yaml

from .analysis.statistics import pearson
from .experiments import tau_label
from .tidy import mean_profiles

COLUMNS = ["item", "quantity", "paper", "this_run", "note"]
NOT_MEASURED = "not measured"
NOT_REPORTED = "not reported in the paper"
NO_RUN = "this preset has no run for it in the tables"
PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.yaml")
FLOOR_NOTE = "floor: the score of the same responses with the units at shuffled places (no spatial structure)"

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
    """One measurement of this run: the paper key it answers, its row label and its compact value."""

    key: str
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
        self.missing: list[tuple[str, str]] = []  # (table, the part of the paper keys it serves)
        self._read: dict[str, pd.DataFrame] = {}

    def get(self, name: str, columns: tuple[str, ...] = ("model", "tau"), serves: str = "") -> pd.DataFrame | None:
        """Table `name`, or None when the preset did not make it: then the item's paper keys containing
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


# ---------------------------------------------------------------- formatting


def num(x: float, digits: int = 3) -> str:
    """`x` to `digits` significant digits, trailing zeros kept (0.320); large values as integers."""
    x = float(x)
    if not math.isfinite(x):
        return "nan"
    if x == 0:
        return "0"
    if abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    text = f"{x:#.{digits}g}"
    return f"{x:.0f}" if "e" in text else text.rstrip(".")


def signed(x: float, digits: int = 3) -> str:
    return ("+" if x > 0 else "") + num(x, digits)


def count(n: float, digits: int = 3) -> str:
    """A parameter or token count: 16.4k, 3.324M, 10.0B."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return num(n / size, digits) + suffix
    return f"{n:.0f}"


def series(label: str, runs: pd.DataFrame, value: str = "value", fmt: Callable[[float], str] = num) -> str:
    """'label tau 0 / 1: a / b' over the rows of `runs` (one per tau), ordered by tau; a value of several seeds
    (`per_run`'s `spread` column) is 'mean ± half its seed range'."""
    runs = runs.sort_values("tau")
    taus = " / ".join(tau_label(t) for t in runs.tau)
    spreads = runs["spread"] if "spread" in runs and value == "value" else [float("nan")] * len(runs)
    values = [fmt(v) + (f" ± {num(d, 2)}" if d == d else "") for v, d in zip(runs[value], spreads)]
    return f"{label} tau {taus}: " + " / ".join(values)


# ---------------------------------------------------------------- table helpers


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


def nearest_tau(taus, target: float) -> float:
    """The TopoNet tau (> 0) nearest `target`; ties go to the smaller."""
    return min((t for t in taus if t > 0), key=lambda t: (abs(t - target), t))


def baseline_of(table: pd.DataFrame, tables: Tables, experiment: str, value: str = "value") -> tuple[float, str] | None:
    """The tau-0 value of `experiment`, else of another experiment of its family (and which run it is)."""
    family = tables.families[experiment]
    for candidate in [experiment] + [m for m, f in tables.families.items() if f == family and m != experiment]:
        base = table[(table.model == candidate) & (table.tau == 0)]
        if not base.empty:
            return float(base[value].iloc[0]), f"{candidate} tau 0"
    return None


def losing_less(change: pd.DataFrame, metric: str) -> list[float]:
    """TopoNet taus whose performance fell less than the baseline's (accuracy drops, losses rise)."""
    sign = 1.0 if metric in ("val_loss", "perplexity", "loss") else -1.0
    loss = change.assign(loss=sign * change.value)
    base = loss[loss.tau == 0]
    if base.empty:
        return []
    return [t for t, v in zip(loss.tau, loss.loss) if t > 0 and v < float(base.loss.iloc[0])]


def performance_metrics(tables: Tables, name: str, metrics: tuple[str, ...], serves: str = "") -> pd.DataFrame | None:
    """model, tau and a column per metric (means over seeds) from metrics table `name`."""
    table = tables.get(name, ("model", "tau", "metric", "value"), serves)
    if table is None:
        return None
    wide = table[table.metric.isin(metrics)].pivot_table(index=["model", "tau"], columns="metric", values="value")
    return wide.reindex(columns=list(metrics)).reset_index().rename_axis(columns=None)


# ---------------------------------------------------------------- items


def figure_1(tables: Tables) -> list[Measured]:
    return [
        Measured(
            "schematic",
            "schematic",
            "schematic, nothing to measure",
            "its maps are measured in Figure 5A (selectivity), Figure 8 (integration windows) "
            "and Figure 7 (correlation vs distance)",
        )
    ]


def _metric_rows(
    wide: pd.DataFrame, tables: Tables, experiments: list[str], metric: str, label: str, floor: str | None = None
) -> list[Measured]:
    """A per-tau series of `metric` per experiment, answering the paper's '<label> (<family>)'; with the
    `floor` column's series after it when the table has one."""
    rows = []
    for exp in experiments:
        runs = of(wide, exp).dropna(subset=[metric])
        if runs.empty:
            continue
        value, note = series(exp, runs, metric), ""
        if floor in runs.columns and runs[floor].notna().all():
            value += "; floor " + " / ".join(num(v) for v in runs.sort_values("tau")[floor])
            note = FLOOR_NOTE
        rows.append(Measured(f"{label} ({tables.families[exp]})", f"{label} ({exp})", value, note))
    return rows


def _top1_changes(vision: pd.DataFrame, tables: Tables, experiments: list[str]) -> list[Measured]:
    """Change of each TopoNet's top-1 from its family's baseline, in points and relative."""
    rows = []
    measured = vision.dropna(subset=["top1"])
    for exp in experiments:
        topo = of(measured, exp)[lambda t: t.tau > 0]
        base = baseline_of(measured, tables, exp, "top1")
        if base is None or topo.empty:
            continue
        value, run = base
        topo = topo.assign(points=100 * (topo.top1 - value), relative=100 * (topo.top1 - value) / value)
        relative = " / ".join(signed(v) + "%" for v in topo.relative)
        rows.append(
            Measured(
                f"2A top-1 change from baseline ({tables.families[exp]})",
                f"2A top-1 change from baseline ({exp})",
                f"{series(exp, topo, 'points', signed)} points ({relative})",
                f"baseline: {run} (top-1 {num(value)})",
            )
        )
    return rows


def _vision_smoothness(tables: Tables, wide: pd.DataFrame) -> pd.DataFrame:
    """Smoothness (and floor) per vision run: the metrics table's, else the mean over layers of smoothness_layers.csv."""
    if wide.smoothness.notna().any() or not tables.has("smoothness_layers.csv"):
        return wide
    layers = tables.get("smoothness_layers.csv", ("model", "tau", "smoothness"))
    means = per_run(layers, value="smoothness").drop(columns="spread")
    if "smoothness_floor" in layers.columns:
        means = means.merge(per_run(layers, value="smoothness_floor").drop(columns="spread"), on=["model", "tau"])
    return wide.drop(columns=["smoothness", "smoothness_floor"]).merge(means, on=["model", "tau"], how="left")


def figure_2(tables: Tables) -> list[Measured]:
    rows = []
    vision = performance_metrics(tables, "vision_metrics.csv", ("top1", "smoothness", "smoothness_floor"), serves="2A")
    if vision is not None:
        vision = _vision_smoothness(tables, vision)
        experiments = tables.experiments(vision, "resnet18", "resnet50", "vit_b_32")
        rows += _metric_rows(vision, tables, experiments, "top1", "2A ImageNet top-1")
        rows += [replace(m, note="a linear readout of its pooled features (TDANN is self-supervised; "
                                 "analysis/linear_readout.py)")
                 for m in _metric_rows(vision, tables, tables.experiments(vision, "tdann"), "top1", "2A ImageNet top-1")]
        rows += _top1_changes(vision, tables, experiments)
        rows += _metric_rows(vision, tables, experiments + tables.experiments(vision, "tdann"), "smoothness",
                             "2A smoothness", "smoothness_floor")
    language = performance_metrics(tables, "language_metrics.csv", ("blimp", "smoothness", "smoothness_floor"), serves="2B")
    if language is not None:
        plotted = language.dropna(subset=["blimp", "smoothness"])  # Figure 2B plots BLiMP against smoothness
        experiments = tables.experiments(plotted, "gpt_neo", "nanogpt")
        rows += _metric_rows(plotted, tables, experiments, "blimp", "2B BLiMP")
        rows += _metric_rows(plotted, tables, experiments, "smoothness", "2B smoothness", "smoothness_floor")
    return rows


def figure_3(tables: Tables) -> list[Measured]:
    rows = []
    if tables.has("vision_metrics.csv"):  # TDANN's dimensionality, beside the ResNets (Figure 3A)
        vision = performance_metrics(tables, "vision_metrics.csv", ("effective_dim",))
        experiments = tables.experiments(vision, "tdann")
        rows += _metric_rows(vision, tables, experiments, "effective_dim", "effective dimensionality")
    for domain, name in (
        ("vision", "dimensionality_correlations.csv"),
        ("language", "language_dimensionality_correlations.csv"),
    ):
        table = tables.get(name, ("quantity", "value"), serves=f"({domain})")
        if table is None:
            continue
        values = dict(zip(table.quantity, table.value))
        n = values.get("n_models", math.nan)
        size = f" (n = {n:.0f} models)" if math.isfinite(n) else ""
        performance = next(
            (q[len("r_dim_") :] for q in values if q.startswith("r_dim_") and q != "r_dim_smoothness"), None
        )
        if performance is not None:
            rows.append(
                Measured(
                    f"dimensionality vs performance ({domain})",
                    f"r, p: effective dim vs {performance} ({domain})",
                    f"r = {num(values[f'r_dim_{performance}'])}, p = {num(values[f'p_dim_{performance}'])}{size}",
                )
            )
        if "r_dim_smoothness" in values:
            rows.append(
                Measured(
                    f"dimensionality vs smoothness ({domain})",
                    f"r, p: effective dim vs smoothness ({domain})",
                    f"r = {num(values['r_dim_smoothness'])}, p = {num(values['p_dim_smoothness'])}{size}",
                )
            )
        if "fisher_z" in values:
            rows.append(
                Measured(
                    f"Fisher z, the two correlations differ ({domain})",
                    f"Fisher z, p ({domain})",
                    f"z = {num(values['fisher_z'])}, p = {num(values['p_fisher_z'])}",
                    "the paper's test: independent-samples form",
                )
            )
        if "steiger_z" in values:
            rows.append(
                Measured(
                    f"Fisher z, the two correlations differ ({domain})",
                    f"Steiger z, p ({domain})",
                    f"z = {num(values['steiger_z'])}, p = {num(values['p_steiger_z'])}",
                    "beside the paper's: Steiger (1980) z for dependent correlations that share ED"
                    + (f"; r({performance}, smoothness) = {num(values[f'r_{performance}_smoothness'])}"
                       if f"r_{performance}_smoothness" in values else ""),
                )
            )
    return rows


def _pruning(tables: Tables) -> list[Measured]:
    table = tables.get("pruning_curves.csv", ("model", "tau", "fraction", "metric", "change"), serves="4A")
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table):
        runs = of(table, exp)
        for metric in dict.fromkeys(runs.metric):
            curves = runs[runs.metric == metric]
            fraction = curves.fraction.max()
            change = per_run(curves[curves.fraction == fraction], value="change").rename(columns={"change": "value"})
            taus = losing_less(change, metric)
            better = "tau " + ", ".join(map(tau_label, taus)) if taus else "none"
            verdict = f"; TopoNets losing less than the baseline: {better}" if (change.tau == 0).any() else ""
            rows.append(
                Measured(
                    f"4A L1 pruning ({tables.families[exp]})",
                    f"4A change in {metric} at fraction {fraction:g} ({exp})",
                    series(exp, change, fmt=signed) + verdict,
                )
            )
    return rows


def _downsampling(tables: Tables, family: str, prefix: str) -> list[Measured]:
    table = tables.get(
        "downsampling_curves.csv", ("model", "tau", "factor", "parameters", "metric", "change"), prefix.strip()
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
                f"{prefix}parameters ({family})",
                f"{prefix}parameters at factor {factor:g} ({exp})",
                f"{count(before, 4)} -> {count(after, 4)} ({signed(100 * (after - before) / before)}%)",
            )
        )
        for metric in dict.fromkeys(runs.metric):
            change = per_run(runs[(runs.factor == factor) & (runs.metric == metric)], value="change")
            rows.append(
                Measured(
                    f"{prefix}change in {metric} ({family})",
                    f"{prefix}change in {metric} at factor {factor:g} ({exp})",
                    series(exp, change, "change", signed),
                )
            )
    return rows


def figure_4(tables: Tables) -> list[Measured]:
    return _pruning(tables) + _downsampling(tables, "gpt_neo", "4B ")


PAIRS = {"face_place": "face-place", "face_body": "face-body", "size_animacy": "size-animacy"}
PAPER_TAU = 10.0  # the paper's Figure 5A and Table 1 TopoNet


def _ssim(tables: Tables) -> list[Measured]:
    table = tables.get(
        "selectivity_ssim.csv", ("model", "tau", "weights", "layer", "pair", "ssim", "r", "ssim_shuffled"), "5A"
    )
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, "resnet18"):
        runs = of(table, exp)
        trained = runs[runs.weights == "trained"]
        if not (trained.tau > 0).any():
            continue
        tau = nearest_tau(trained.tau.unique(), PAPER_TAU)
        layer = trained[trained.tau == tau].layer.iloc[-1]
        columns = [
            (f"tau {tau_label(tau)}", trained[trained.tau == tau]),
            ("tau 0", trained[trained.tau == 0]),
            ("untrained", runs[runs.weights == "untrained"]),
        ]
        for pair, label in PAIRS.items():
            parts = []
            for name, selected in columns:
                at = selected[(selected.layer == layer) & (selected.pair == pair)]
                if not at.empty:
                    parts.append(
                        f"{name}: {num(at.ssim.mean())} (shuffled {num(at.ssim_shuffled.mean())}, r {num(at.r.mean())})"
                    )
            if parts:
                rows.append(
                    Measured(
                        f"5A SSIM {label} (resnet18)",
                        f"5A SSIM {label} ({exp})",
                        "; ".join(parts),
                        f"layer {layer} (the last mapped layer, the one Figure 5A draws); SSIM of the two maps "
                        f"each scaled to [0, 1]; tau {tau_label(tau)} is the TopoNet nearest the paper's 10; "
                        "shuffled: both maps' units at the same random places",
                    )
                )
    return rows


def _windows(tables: Tables) -> list[Measured]:
    table = tables.get("integration_windows.csv", ("model", "tau", "metric", "value"), "5B")
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, "gpt_neo"):
        for metric, label in (("window_c_median", "median c, power-law weight"),
                              ("window_b_median", "median b, exponential rate"),
                              ("yoking_median", "median sentence-yoking index")):
            runs = per_run(of(table, exp), metric)
            if not runs.empty:
                rows.append(
                    Measured(
                        f"5B {label} (gpt_neo)",
                        f"5B {label} ({exp})",
                        series(exp, runs),
                        "median over all units of all c_fc layers",
                    )
                )
    return rows


def figure_5(tables: Tables) -> list[Measured]:
    return _ssim(tables) + _windows(tables)


def figure_6(tables: Tables) -> list[Measured]:
    training = tables.get("training.csv", ("model", "tau", "metric", "value"))
    language = tables.get("language_metrics.csv", ("model", "tau", "metric", "value"))
    if training is None or language is None:
        return []
    runs = (
        per_run(training, "tokens")
        .drop(columns="spread")
        .rename(columns={"value": "tokens"})
        .merge(per_run(language, "blimp"), on=["model", "tau"])
    )
    runs = runs[runs.model.isin(tables.experiments(runs, "nanogpt"))]
    if runs.empty:
        return []
    rows, changes = [], []
    for tokens, budget in runs.groupby("tokens"):
        names = " + ".join(dict.fromkeys(budget.model))
        rows.append(
            Measured(
                "BLiMP by training tokens (nanogpt)",
                f"BLiMP at {count(tokens)} training tokens ({names})",
                series(names, budget),
            )
        )
        base = budget[budget.tau == 0]
        topo = budget[budget.tau > 0]
        if not base.empty and not topo.empty:
            changes.append(f"{signed(topo.value.mean() - base.value.mean())} at {count(tokens)}")
    if changes:
        rows.append(
            Measured(
                "BLiMP change from baseline by training tokens (nanogpt)",
                "BLiMP change from baseline by training tokens",
                " / ".join(changes) + " tokens",
                "mean over the TopoNets (tau > 0) of the change from tau 0 at the same token budget",
            )
        )
    return rows


def figure_7(tables: Tables) -> list[Measured]:
    curves = tables.get("smoothness_curves.csv", ("model", "tau", "seed", "layer", "distance", "r"))
    if curves is None:
        return []
    profiles = mean_profiles(curves).sort_values("distance")
    drops = profiles.groupby(["model", "tau"], as_index=False)["r"].agg(lambda r: r.iloc[0] - r.iloc[-1])
    return [
        Measured(
            "r drop from nearest to farthest distance",
            f"r at nearest minus farthest distance bin ({exp})",
            series(exp, of(drops, exp), "r"),
            "mean r over layers and seeds at the nearest and farthest non-empty bins",
        )
        for exp in tables.experiments(drops)
    ]


def figure_8(tables: Tables) -> list[Measured]:
    units = tables.get("integration_window_units.csv", ("model", "tau", "layer", "b", "c"))
    if units is None:
        return []
    rows = []
    for exp in tables.experiments(units, "gpt_neo"):
        runs = of(units, exp)
        layers = list(dict.fromkeys(runs.layer))
        for parameter in ("c", "b"):
            for tau, run in runs.groupby("tau"):
                medians = run.groupby("layer")[parameter].median().reindex(layers)
                rows.append(
                    Measured(
                        f"median {parameter} by layer (gpt_neo)",
                        f"median {parameter} by layer ({exp} tau {tau_label(tau)})",
                        f"layers 0-{len(layers) - 1}: " + " / ".join(num(v) for v in medians),
                        "layers in network order; median over units (and seeds)",
                    )
                )
    return rows


def figure_9(tables: Tables) -> list[Measured]:
    wide = performance_metrics(tables, "language_metrics.csv", ("effective_dim", "perplexity"))
    if wide is None:
        return []
    rows = []
    for exp in tables.experiments(wide.dropna(), "gpt_neo"):
        runs = of(wide, exp).dropna()
        rows.append(
            Measured(
                "effective dimensionality (gpt_neo)",
                f"effective dimensionality ({exp})",
                series(exp, runs, "effective_dim"),
            )
        )
        rows.append(Measured("perplexity (gpt_neo)", f"perplexity ({exp})", series(exp, runs, "perplexity"),
                             "on the common held-out corpus (evaluation.lm_loss.corpus; paper: OpenWebText)"))
        high = runs[runs.tau >= 5]
        r, p = pearson(high.effective_dim, high.perplexity)
        rows.append(
            Measured(
                "r effective dimensionality vs perplexity, tau >= 5 (gpt_neo)",
                f"r effective dimensionality vs perplexity, tau >= 5 ({exp})",
                f"r = {num(r)}, p = {num(p)} (n = {len(high)})"
                if math.isfinite(r)
                else f"n/a: needs 3 runs with tau >= 5 that differ, has {len(high)}",
            )
        )
    return rows


def figure_10(tables: Tables) -> list[Measured]:
    return _downsampling(tables, "nanogpt", "")


def _lora_runs(tables: Tables):
    """(experiment, fine-tuning data set, its rows of lora_deltas.csv), for each pair the table has."""
    deltas = tables.get(
        "lora_deltas.csv", ("model", "tau", "dataset", "rank", "val_loss_before", "val_loss_after", "delta")
    )
    if deltas is None:
        return
    for exp in tables.experiments(deltas):
        for dataset, runs in of(deltas, exp).groupby("dataset"):
            yield exp, dataset, runs


def figure_11(tables: Tables) -> list[Measured]:
    rows = []
    for exp, dataset, runs in _lora_runs(tables):
        means = runs.groupby("tau", as_index=False)[["val_loss_before", "val_loss_after"]].mean()
        text = " / ".join(
            f"{num(b, 4)} -> {num(a, 4)}" for b, a in zip(means.val_loss_before, means.val_loss_after)
        )
        rows.append(
            Measured(
                f"validation loss before -> after LoRA ({tables.families[exp]})",
                f"validation loss before -> after LoRA, {dataset} ({exp})",
                f"{exp} tau {' / '.join(map(tau_label, means.tau))}: {text}",
                "mean over ranks",
            )
        )
    return rows


def figure_12(tables: Tables) -> list[Measured]:
    rows = []
    for exp, dataset, runs in _lora_runs(tables):
        by_rank = runs.groupby(["tau", "rank"], as_index=False).delta.mean()
        base = by_rank[by_rank.tau == 0].set_index("rank").delta
        topo = by_rank[(by_rank.tau > 0) & by_rank["rank"].isin(base.index)]
        larger = int((topo.delta.to_numpy() > base.loc[topo["rank"]].to_numpy()).sum())
        ranks = " / ".join(f"{r:g}" for r in sorted(runs["rank"].unique()))
        verdict = f"; larger than the baseline's at {larger} of {len(topo)} (tau, rank)" if len(topo) else ""
        rows.append(
            Measured(
                f"LoRA delta ({tables.families[exp]})",
                f"LoRA delta, {dataset} ({exp})",
                series(exp, by_rank.groupby("tau", as_index=False).delta.mean(), "delta") + verdict,
                f"delta = val loss before - after; mean over ranks {ranks}",
            )
        )
    return rows


def _regions(tables: Tables) -> tuple[pd.DataFrame | None, list[str], str]:
    """Brain-Score's regions table, its region columns and a note naming the benchmarks behind it."""
    table = tables.get("brainscore_regions.csv")
    if table is None:
        return None, [], ""
    regions = [c for c in table.columns if c not in ("model", "tau", "seed")]
    note = f"regions measured: {', '.join(regions)}"
    if tables.has("brainscore.csv"):
        scores = pd.read_csv(tables.paths["brainscore.csv"])
        benchmarks = sorted(set(scores.metric) - set(regions))
        if benchmarks:
            note += f"; this preset's benchmarks: {', '.join(benchmarks)} (the paper's: the public ones of A.8)"
    return table, regions, note


def _region_scores(runs: pd.DataFrame, regions: list[str]) -> str:
    values = runs[regions].mean()
    return f"{' / '.join(regions)}: " + " / ".join(num(values[r], 4) for r in regions)


def table_1(tables: Tables) -> list[Measured]:
    table, regions, note = _regions(tables)
    if table is None:
        return []
    rows = []
    for exp in tables.experiments(table, "resnet18"):
        runs = of(table, exp)
        if (runs.tau > 0).any():
            tau = nearest_tau(runs.tau.unique(), PAPER_TAU)
            rows.append(
                Measured(
                    "TopoNet-ResNet18 tau 10 (resnet18)",
                    f"TopoNet ({exp} tau {tau_label(tau)})",
                    _region_scores(runs[runs.tau == tau], regions),
                    f"tau {tau_label(tau)} is the TopoNet nearest the paper's 10; {note}",
                )
            )
    rows += [Measured("TDANN (tdann)", f"TDANN ({exp})", _region_scores(of(table, exp), regions), note)
             for exp in tables.experiments(table, "tdann")]
    return rows


def table_2(tables: Tables) -> list[Measured]:
    table, regions, note = _regions(tables)
    if table is None:
        return []
    return [
        Measured(
            "TDANN (tdann)" if tables.families[exp] == "tdann" else f"{tables.families[exp]} tau {tau_label(tau)}",
            f"{exp} tau {tau_label(tau)}",
            _region_scores(runs, regions),
            note,
        )
        for exp in tables.experiments(table)
        for tau, runs in of(table, exp).groupby("tau")
    ]


def unit_to_voxel(tables: Tables) -> list[Measured]:
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
                f"r normalised to the noise ceiling ({tables.families[exp]})",
                f"r / noise ceiling ({exp})",
                series(exp, normalised),
                "mean noise-ceiling-corrected r of the one-to-one assignment / the same between subjects "
                "(Margalit et al.); this preset's data set (evaluation.unit_voxel.neural; mini: Allen VISp, "
                "neuron-to-neuron ceiling; paper: NSD, 8 subjects)"
                + (f"; {', '.join(facts)}" if facts else ""),
            )
        )
    return rows


@dataclass(frozen=True)
class Item:
    name: str
    slug: str  # file name of its own CSV
    measure: Callable[[Tables], list[Measured]]


ITEMS = [
    Item("Figure 1", "figure_01", figure_1),
    Item("Figure 2", "figure_02", figure_2),
    Item("Figure 3", "figure_03", figure_3),
    Item("Figure 4", "figure_04", figure_4),
    Item("Figure 5", "figure_05", figure_5),
    Item("Figure 6", "figure_06", figure_6),
    Item("Figure 7", "figure_07", figure_7),
    Item("Figure 8", "figure_08", figure_8),
    Item("Figure 9", "figure_09", figure_9),
    Item("Figure 10", "figure_10", figure_10),
    Item("Figure 11", "figure_11", figure_11),
    Item("Figure 12", "figure_12", figure_12),
    Item("Table 1", "table_1", table_1),
    Item("Table 2", "table_2", table_2),
    Item("Unit-to-voxel (§3.4)", "unit_to_voxel", unit_to_voxel),
]


def paper_numbers(path: str | Path = PAPER_NUMBERS) -> dict[str, dict[str, str | dict]]:
    """The paper's entries per item, checked to cover exactly ITEMS."""
    numbers = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    names = [item.name for item in ITEMS]
    if list(numbers) != names:
        raise ValueError(f"{path} lists items {list(numbers)}; expected {names} in that order")
    return numbers


PRIOR_COLUMNS = ["figure", "model", "metric", "value", "baseline", "source"]


def prior_models_table(path: str | Path = PAPER_NUMBERS) -> pd.DataFrame:
    """Tidy table of the prior models' values as published (an entry's `published` list in paper_numbers.yaml):
    one row per figure, model and metric; value NaN where the paper prints none."""
    rows = [
        {column: marker.get(column) for column in PRIOR_COLUMNS}
        for entries in paper_numbers(path).values()
        for entry in entries.values()
        if isinstance(entry, dict)
        for marker in entry.get("published", [])
    ]
    return pd.DataFrame(rows, columns=PRIOR_COLUMNS).astype({"value": float})


def _row(*values: str) -> dict[str, str]:
    return dict(zip(COLUMNS, values))


def _item_rows(item: str, entries: dict, measured: list[Measured], missing: list[tuple[str, str]]) -> list[dict]:
    """Rows of one item: each paper entry with the measurements answering it (or 'not measured'), then the rest."""
    by_key: dict[str, list[Measured]] = {}
    for m in measured:
        by_key.setdefault(m.key, []).append(m)
    rows = []
    for key, entry in entries.items():
        paper, why = (entry, "") if isinstance(entry, str) else (entry["paper"], entry.get("note", ""))
        why = why or "; ".join(TABLE_NEEDS[name] for name, serves in dict.fromkeys(missing) if serves in key) or NO_RUN
        found = by_key.pop(key, [])
        rows += [_row(item, m.quantity, paper, m.this_run, m.note) for m in found]
        if not found:
            rows.append(_row(item, key, paper, NOT_MEASURED, why))
    rows += [_row(item, m.quantity, NOT_REPORTED, m.this_run, m.note) for extra in by_key.values() for m in extra]
    return rows


def compare(tables: str | Path | list[str | Path], families: dict[str, str]) -> pd.DataFrame:
    """The paper-vs-run table of the tidy tables (a directory's CSVs, or a list of them, so that a workflow
    passes exactly this run's tables); `families` maps experiment name to family."""
    tables = Tables(tables, families)
    numbers = paper_numbers()
    rows = []
    for item in ITEMS:
        tables.missing = []
        rows += _item_rows(item.name, numbers[item.name], item.measure(tables), tables.missing)
    return pd.DataFrame(rows, columns=COLUMNS)
