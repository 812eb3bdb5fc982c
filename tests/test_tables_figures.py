"""Tidy tables from evaluation outputs and the figures drawn from them."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from toponets.cli import eval_args, figure
from toponets.figures import fig3, fig4a, fig4b, fig7, style
from toponets.figures.fig2a import pareto_front, plot
from toponets.tables import curves_table, metrics_table, per_layer_table, region_table, training_table
from toponets.tidy import mean_profiles, wide_metrics
from toponets.train.common import MetricsLog


def test_pareto_front_of_known_points():
    x = np.array([0.1, 0.2, 0.3, 0.25, 0.05, 0.3])
    y = np.array([0.9, 0.8, 0.5, 0.4, 0.95, 0.6])
    # (0.3, 0.6) beats (0.3, 0.5); (0.25, 0.4) is beaten by (0.3, 0.6); the rest trade off
    assert pareto_front(x, y).tolist() == [4, 0, 1, 5]


IDENTITY_RUNS = [("resnet18", 0.0, 0), ("resnet18", 0.5, 1), ("nano-gpt_2", 50.0, 0)]
# What the tables were, byte for byte, when they read the run from the paths .../<model>/tau<tau>/seed<seed>.<ext>
# (commit 25efc5d), for the outputs of `_identity_outputs`: reading it from the data changes none of them.
TABLES_BEFORE = {
    "metrics": """model,tau,seed,metric,value
resnet18,0.0,0,smoothness,0.1
resnet18,0.0,0,smoothness_floor,0.02
resnet18,0.5,1,smoothness,0.2
resnet18,0.5,1,smoothness_floor,
nano-gpt_2,50.0,0,smoothness,0.30000000000000004
nano-gpt_2,50.0,0,smoothness_floor,0.02
""",
    "per_layer": """model,tau,seed,layer,smoothness,smoothness_floor
resnet18,0.0,0,l1,0.3,0.01
resnet18,0.0,0,l2,0.125,0.002
resnet18,0.5,1,l1,1.3,0.01
resnet18,0.5,1,l2,0.125,0.002
nano-gpt_2,50.0,0,l1,2.3,0.01
nano-gpt_2,50.0,0,l2,0.125,0.002
""",
    "curves": """model,tau,seed,layer,distance,r,pairs
resnet18,0.0,0,l1,0.5,0.3,4
resnet18,0.0,0,l2,1.25,,2
resnet18,0.5,1,l1,0.5,0.3,4
resnet18,0.5,1,l2,1.25,,2
nano-gpt_2,50.0,0,l1,0.5,0.3,4
nano-gpt_2,50.0,0,l2,1.25,,2
""",
    "training": """model,tau,seed,metric,value
resnet18,0.0,0,val_acc,0.125
resnet18,0.0,0,val_loss,3.0
resnet18,0.0,0,loss,2.25
resnet18,0.0,0,step,2.0
resnet18,0.5,1,val_acc,0.125
resnet18,0.5,1,val_loss,3.0
resnet18,0.5,1,loss,2.25
resnet18,0.5,1,step,2.0
nano-gpt_2,50.0,0,val_acc,0.125
nano-gpt_2,50.0,0,val_loss,3.0
nano-gpt_2,50.0,0,loss,2.25
nano-gpt_2,50.0,0,step,2.0
""",
}


def _identity_outputs(directory, name) -> dict[str, list]:
    """Smoothness reports and curves (written by the CLIs' writers) and training logs (MetricsLog) of
    IDENTITY_RUNS, each file named `name`(index): nothing in a path names the run."""
    directory.mkdir(parents=True)
    paths = {"json": [], "csv": [], "train": []}
    for i, (model, tau, seed) in enumerate(IDENTITY_RUNS):
        ident = {"analysis": "smoothness", "run": {"model": model, "tau": tau, "seed": seed}}
        report = {"metrics": {"smoothness": 0.1 * (i + 1), "smoothness_floor": None if i == 1 else 0.02},
                  "per_layer": {"l1": 0.3 + i, "l2": 0.125}, "per_layer_floor": {"l1": 0.01, "l2": 0.002}}
        eval_args.write_json(directory / f"{name}{i}.json", report, ident)
        curve = pd.DataFrame({"layer": ["l1", "l2"], "distance": [0.5, 1.25], "r": [0.3, float("nan")], "pairs": [4, 2]})
        eval_args.write_csv(directory / f"{name}{i}.csv", curve, ident)
        with MetricsLog(directory / f"{name}{i}.jsonl", run=ident["run"]) as log:
            log.write({"step": 1, "loss": 2.5, "lr": 0.1})
            log.write({"step": 2, "loss": 2.25, "val_acc": 0.125, "val_loss": 3.0})
        for kind, ext in (("json", "json"), ("csv", "csv"), ("train", "jsonl")):
            paths[kind].append(directory / f"{name}{i}.{ext}")
    return paths


def _tables(paths) -> dict[str, str]:
    return {"metrics": metrics_table(paths["json"]).to_csv(index=False),
            "per_layer": per_layer_table(paths["json"], "smoothness").to_csv(index=False),
            "curves": curves_table(paths["csv"]).to_csv(index=False),
            "training": training_table(paths["train"]).to_csv(index=False)}


def test_tables_from_outputs_carrying_their_run_equal_those_read_from_paths(tmp_path):
    """#15 item 4, "Run identity travels with the data": tables built from the run recorded in each output
    (JSON "run", CSV columns model/tau/seed, training records' "run") are byte for byte the tables that
    were read from the paths."""
    assert _tables(_identity_outputs(tmp_path / "out", "run")) == TABLES_BEFORE


def test_renaming_outputs_does_not_change_the_tables(tmp_path):
    """#15 item 4: the identity comes from the data, so outputs moved or renamed make the same tables."""
    first = _tables(_identity_outputs(tmp_path / "a", "run"))
    renamed = _identity_outputs(tmp_path / "b", "x")
    moved = {kind: [p.rename(tmp_path / "b" / f"{kind}_{len(paths)}_{p.name}") for p in paths]
             for kind, paths in renamed.items()}
    assert _tables(moved) == first


def test_outputs_without_identity_are_refused(tmp_path):
    """#15 item 4: an output written before outputs named their run is an error naming the file, with the fix."""
    old = tmp_path / "smoothness" / "resnet18" / "tau0.5" / "seed0.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"metrics": {"smoothness": 0.1}, "per_layer": {"l1": 0.1}}))
    curve = old.with_suffix(".csv")
    pd.DataFrame({"layer": ["l1"], "r": [0.1]}).to_csv(curve, index=False)
    log = tmp_path / "metrics.jsonl"
    log.write_text(json.dumps({"step": 1, "loss": 2.0}) + "\n")
    for build, path in ((metrics_table, old), (lambda ps: per_layer_table(ps, "smoothness"), old),
                        (curves_table, curve), (training_table, log)):
        with pytest.raises(ValueError, match=f"{path.name} has no .*older version; rerun its job"):
            build([path])


def test_csv_writer_puts_the_run_in_front_and_keeps_it_on_empty_tables(tmp_path):
    """#15 item 4: an evaluation CSV names its run in columns model, tau, seed, even with no rows."""
    ident = {"analysis": "pruning", "run": {"model": "resnet18", "tau": 5.0, "seed": 2}}
    eval_args.write_csv(tmp_path / "a.csv", pd.DataFrame({"x": [1, 2]}), ident)
    assert (tmp_path / "a.csv").read_text() == "model,tau,seed,x\nresnet18,5.0,2,1\nresnet18,5.0,2,2\n"
    eval_args.write_csv(tmp_path / "e.csv", pd.DataFrame({"x": []}), ident)
    assert curves_table([tmp_path / "a.csv", tmp_path / "e.csv"]).seed.tolist() == [2, 2]
    with pytest.raises(ValueError, match="hide the run"):
        eval_args.write_csv(tmp_path / "b.csv", pd.DataFrame({"seed": [1]}), ident)
    eval_args.write_json(tmp_path / "a.json", {"metrics": {"m": 1.0}}, ident)
    assert list(json.loads((tmp_path / "a.json").read_text())) == ["analysis", "run", "metrics"]


def _write(tmp_path, analysis, model, tau, payload, ext="json"):
    path = tmp_path / analysis / model / f"tau{tau}" / f"seed0.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ident = {"analysis": analysis, "run": {"model": model, "tau": tau, "seed": 0}}
    if ext == "json":
        eval_args.write_json(path, payload, ident)
    else:
        eval_args.write_csv(path, payload, ident)
    return path


def test_tables_are_tidy(tmp_path):
    acc = [_write(tmp_path, "accuracy", "resnet18", t, {"metrics": {"top1": a}}) for t, a in [(0, 0.6), (5, 0.5)]]
    smo = [_write(tmp_path, "smoothness", "resnet18", t, {"metrics": {"smoothness": s}, "per_layer": {"l1": s, "l2": s / 2}})
           for t, s in [(0, 0.1), (5, 0.4)]]
    table = metrics_table(acc + smo)
    assert list(table.columns) == ["model", "tau", "seed", "metric", "value"]
    assert len(table) == 4
    wide = wide_metrics(table, ["top1", "smoothness"])
    assert wide.set_index("tau").loc[5.0, "smoothness"] == 0.4
    layers = per_layer_table(smo, "smoothness")
    assert layers.query("tau == 5 and layer == 'l2'").smoothness.item() == 0.2
    assert list(layers.columns) == ["model", "tau", "seed", "layer", "smoothness"]


def test_smoothness_floor_in_the_per_layer_table(tmp_path):
    paths = [_write(tmp_path, "smoothness", "resnet18", 0, {"metrics": {"smoothness": 0.3, "smoothness_floor": 0.02},
                                                          "per_layer": {"l1": 0.4, "l2": 0.2},
                                                          "per_layer_floor": {"l1": 0.03, "l2": 0.01}})]
    layers = per_layer_table(paths, "smoothness")
    assert list(layers.columns) == ["model", "tau", "seed", "layer", "smoothness", "smoothness_floor"]
    assert layers.set_index("layer").smoothness_floor.to_dict() == {"l1": 0.03, "l2": 0.01}
    assert set(metrics_table(paths).metric) == {"smoothness", "smoothness_floor"}
    curve = pd.DataFrame({"layer": ["l1", "l1"], "distance": [0.5, 1.5], "r": [0.3, 0.1], "pairs": [4, 2]})
    curves = curves_table([_write(tmp_path, "smoothness", "resnet18", 5, curve, ext="csv")])
    assert list(curves.columns[:4]) == ["model", "tau", "seed", "layer"] and len(curves) == 2


def test_fig2a_draws_png_and_pdf(tmp_path):
    table = pd.DataFrame(
        [("resnet18", t, 0, m, v) for t, a, s in [(0, 0.6, 0.1), (1, 0.58, 0.2), (50, 0.4, 0.5)]
         for m, v in [("top1", a), ("smoothness", s)]],
        columns=["model", "tau", "seed", "metric", "value"],
    )
    outputs = [tmp_path / "fig.png", tmp_path / "fig.pdf"]
    plot(table, outputs)
    assert all(p.stat().st_size > 1000 for p in outputs)
    assert not list(tmp_path.glob(".*part"))


def test_fig2a_draws_a_run_without_top1_as_a_smoothness_line(tmp_path):
    """Figure 2A draws TDANN (self-supervised: no top-1 here) as a dashed line at its smoothness, as the paper."""
    from toponets.figures.fig2a import smoothness_only

    table = pd.DataFrame(
        [("resnet18", 0, 0, "top1", 0.6), ("resnet18", 0, 0, "smoothness", 0.1), ("tdann", 0, 0, "smoothness", 0.3),
         ("tdann", 0, 0, "effective_dim", 9.0)],
        columns=["model", "tau", "seed", "metric", "value"],
    )
    assert smoothness_only(table, "top1").to_dict("records") == [{"model": "tdann", "tau": 0, "smoothness": 0.3}]
    plot(table, [tmp_path / "fig.png"])
    assert (tmp_path / "fig.png").stat().st_size > 1000


def test_seed_ranges_go_with_the_mean_and_are_drawn_where_a_point_has_seeds():
    """Issue "the small preset": every figure shows the seed spread where a point has more than one seed."""
    table = pd.DataFrame(
        [("resnet18", t, seed, m, v) for t, seed, a, s in [(0, 0, 0.6, 0.1), (0, 1, 0.5, 0.3), (50, 0, 0.4, 0.5)]
         for m, v in [("top1", a), ("smoothness", s)]],
        columns=["model", "tau", "seed", "metric", "value"],
    )
    wide = wide_metrics(table, ["top1", "smoothness"]).set_index("tau")
    assert wide.loc[0.0, ["top1", "top1_low", "top1_high", "seeds"]].tolist() == pytest.approx([0.55, 0.5, 0.6, 2])
    assert wide.loc[50.0, ["smoothness_low", "smoothness_high", "seeds"]].tolist() == [0.5, 0.5, 1]
    fig, ax = plt.subplots()
    style.seed_ranges(ax, wide.reset_index(), "smoothness", "top1")
    [bars] = ax.containers  # one errorbar container, for the one point of two seeds
    assert len(bars.lines[2][0].get_segments()) == 1
    plt.close(fig)


def test_fig2a_explains_missing_metrics():
    table = pd.DataFrame([("m", 0.0, 0, "top1", 0.5)], columns=["model", "tau", "seed", "metric", "value"])
    with pytest.raises(ValueError, match=r"lacks \['smoothness'\]"):
        wide_metrics(table, ["top1", "smoothness"])


def test_fig7_averages_layers_and_seeds_per_distance(tmp_path):
    curves = pd.DataFrame(
        [("resnet18", 5.0, seed, layer, d, r, 10) for seed in (0, 1) for layer, shift in (("a", 0.0), ("b", 0.2))
         for d, r in ((0.5, 0.6 + shift), (1.5, None if layer == "b" else 0.1), (2.5, 0.0))],
        columns=["model", "tau", "seed", "layer", "distance", "r", "pairs"],
    )
    profiles = mean_profiles(curves)
    assert profiles.distance.tolist() == [0.2, 0.6, 1.0]  # bin centres over the largest one
    assert profiles.r.round(6).tolist() == [0.7, 0.1, 0.0]  # the empty bin of layer b is left out
    fig7.plot(curves, [tmp_path / "f.png"])
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_fig3_and_fig4a_draw(tmp_path):
    table = pd.DataFrame(
        [("resnet18", t, 0, m, v) for t, a, s, d in [(0, 0.6, 0.1, 9.0), (1, 0.58, 0.2, 8.0), (50, 0.4, 0.5, 5.0)]
         for m, v in [("top1", a), ("smoothness", s), ("effective_dim", d)]],
        columns=["model", "tau", "seed", "metric", "value"],
    )
    fig3.plot(table, [tmp_path / "f3.png"])
    curves = pd.DataFrame(
        [("resnet18", t, 0, f, "top1", 0.5 - f * k, -f * k) for t, k in [(0, 0.4), (5, 0.2)] for f in (0, 0.5, 0.9)],
        columns=["model", "tau", "seed", "fraction", "metric", "value", "change"],
    )
    fig4a.plot(curves, [tmp_path / "f4.png"])
    assert (tmp_path / "f3.png").stat().st_size > 1000 and (tmp_path / "f4.png").stat().st_size > 1000


LANGUAGE = [("gpt_neo", 0, 4.0, 0.70, 0.10, 30.0), ("gpt_neo", 5, 4.2, 0.68, 0.40, 25.0),
            ("gpt_neo", 50, 4.5, 0.66, 0.60, 20.0), ("nanogpt", 0, 3.3, 0.75, 0.10, 40.0),
            ("nanogpt", 50, 3.4, 0.74, 0.50, 35.0)]


def _language_metrics() -> pd.DataFrame:
    return pd.DataFrame(
        [(model, tau, 0, m, v) for model, tau, loss, blimp, smooth, dim in LANGUAGE
         for m, v in [("val_loss", loss), ("perplexity", np.exp(loss)), ("blimp", blimp),
                      ("smoothness", smooth), ("effective_dim", dim)]],
        columns=["model", "tau", "seed", "metric", "value"],
    )


def _downsampling() -> pd.DataFrame:
    size = {"gpt_neo": 125.2e6, "nanogpt": 124.5e6}
    rows = []
    for model, tau in [("gpt_neo", 0), ("gpt_neo", 50), ("nanogpt", 0), ("nanogpt", 50)]:
        for factor, params in [(1, 1.0), (2, 0.89), (5, 0.817)]:
            worse = (factor - 1) / (1 + tau)
            rows += [(model, tau, 0, factor, params * size[model], params, "val_loss", 4 + worse, worse),
                     (model, tau, 0, factor, params * size[model], params, "blimp", 0.7 - worse / 10, -worse / 10)]
    return pd.DataFrame(rows, columns=["model", "tau", "seed", "factor", "parameters", "parameters_kept",
                                       "metric", "value", "change"])


def _outputs(tmp_path, name):
    return [str(tmp_path / f"{name}.png"), str(tmp_path / f"{name}.pdf")]


@pytest.mark.parametrize("name, table, models", [
    ("fig2b", _language_metrics, []), ("fig9", _language_metrics, []),
    ("fig4b", _downsampling, ["--models", "gpt_neo"]), ("fig10", _downsampling, ["--models", "nanogpt"]),
])
def test_language_figures_draw_png_and_pdf(tmp_path, name, table, models):
    path = tmp_path / "table.csv"
    table().to_csv(path, index=False)
    figure.main([name, "--table", str(path), *models, "--out", *_outputs(tmp_path, name)])
    assert all(Path(p).stat().st_size > 1000 for p in _outputs(tmp_path, name))


def test_fig4a_names_each_panels_metric():
    curves = pd.DataFrame(
        [(model, t, 0, f, metric, 0.0, sign * f * k) for model, metric, sign in
         [("resnet18", "top1", -1), ("gpt_neo", "val_loss", 1)] for t, k in [(0, 0.4), (5, 0.2)] for f in (0, 0.5)],
        columns=["model", "tau", "seed", "fraction", "metric", "value", "change"],
    )
    fig = fig4a.draw(curves)
    labels = {ax.get_title(): ax.get_ylabel() for ax in fig.axes if ax.get_title()}
    assert labels == {"resnet18": "Change in top-1 accuracy", "gpt_neo": "Change in validation loss (nats)"}
    plt.close(fig)


def test_fig4b_has_a_panel_per_model_and_metric_read_in_parameters():
    fig = fig4b.draw(_downsampling())
    panels = [(ax.get_title(), ax.get_ylabel()) for ax in fig.axes if ax.get_title()]
    assert panels == [(model, label) for model in ("gpt_neo", "nanogpt")
                      for label in ("Change in validation loss (nats)", "Change in BLiMP accuracy")]
    top = fig.axes[0].child_axes[0]  # the parameter count on the top axis
    assert top.get_xlabel() == "Parameters (millions)"
    plt.close(fig)


def test_models_filter_keeps_the_listed_models(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    _downsampling().to_csv(path, index=False)
    drawn = []
    monkeypatch.setattr(fig4b, "plot", lambda table, outputs: drawn.append(table))  # fig10 draws with it
    figure.main(["fig10", "--table", str(path), "--models", "nanogpt", "bert", "--out", "unused.png"])
    assert set(drawn[0].model) == {"nanogpt"} and len(drawn[0]) == 12


def test_models_filter_that_keeps_nothing_names_the_models_present(tmp_path, capsys):
    path = tmp_path / "table.csv"
    _downsampling().to_csv(path, index=False)
    with pytest.raises(SystemExit):
        figure.main(["fig10", "--table", str(path), "--models", "bert", "--out", str(tmp_path / "f.png")])
    err = capsys.readouterr().err
    assert "--models bert match no rows" in err and "whose models are gpt_neo, nanogpt" in err


def test_fig6_stacks_training_and_metrics_tables_into_one_line_per_tau(tmp_path, monkeypatch):
    runs = [("nanogpt_1B", 0, 1e9, 0.70), ("nanogpt_1B", 1, 1e9, 0.69), ("nanogpt_2B", 0, 2e9, 0.72),
            ("nanogpt_2B", 1, 2e9, 0.71), ("gpt_neo", 0, 5e8, 0.60)]
    columns = ["model", "tau", "seed", "metric", "value"]
    training = pd.DataFrame([(m, t, 0, "tokens", n) for m, t, n, _ in runs], columns=columns)
    metrics = pd.DataFrame([(m, t, 0, "blimp", b) for m, t, _, b in runs], columns=columns)
    paths = [tmp_path / "training.csv", tmp_path / "metrics.csv"]
    training.to_csv(paths[0], index=False)
    metrics.to_csv(paths[1], index=False)
    drawn = []
    monkeypatch.setattr(style, "save", lambda fig, outputs: drawn.append(fig))
    figure.main(["fig6", "--table", *map(str, paths), "--models", "nanogpt_1B", "nanogpt_2B", "--out", "unused.png"])
    ax = drawn[0].axes[0]
    data = sorted((tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.get_lines() if len(line.get_xdata()))
    assert data == [((1e9, 2e9), (0.69, 0.71)), ((1e9, 2e9), (0.70, 0.72))]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Training tokens"
    plt.close(drawn[0])


def test_region_table_has_the_papers_layout_and_averages_seeds():
    rows = [("resnet18", 0, seed, metric, value + seed / 10) for seed in (0, 1)
            for metric, value in [("V1", 0.2), ("IT", 0.4), ("local.Allen_VISp-pls", 0.2)]]
    table = region_table(pd.DataFrame(rows, columns=["model", "tau", "seed", "metric", "value"]))
    assert list(table.columns) == ["model", "tau", "V1", "IT"]
    assert table[["V1", "IT"]].iloc[0].tolist() == pytest.approx([0.25, 0.45])
    with pytest.raises(ValueError, match="none of the regions"):
        region_table(pd.DataFrame(rows[2:3], columns=["model", "tau", "seed", "metric", "value"]))


def test_section_3_2_statistics_pool_only_the_named_models(tmp_path):
    """Section 3.2: the correlations are over the vision ResNets; rows of other models are left out."""
    from toponets.analysis.statistics import dimensionality_correlations
    from toponets.cli import tables as tables_cli

    rows = [(m, t, 0, k, v) for m, t, dim, top1, smooth in [
        ("resnet18", 0, 10, 0.6, 0.1), ("resnet18", 5, 8, 0.5, 0.4), ("resnet50", 0, 12, 0.7, 0.1),
        ("resnet50", 5, 9, 0.65, 0.3), ("vit_b_32", 0, 40, 0.9, 0.9)]
        for k, v in [("effective_dim", dim), ("top1", top1), ("smoothness", smooth)]]
    metrics = tmp_path / "vision_metrics.csv"
    pd.DataFrame(rows, columns=["model", "tau", "seed", "metric", "value"]).to_csv(metrics, index=False)
    out = tmp_path / "corr.csv"
    tables_cli.main(["correlations", "--performance", "top1", "--models", "resnet18", "resnet50",
                     "--out", str(out), str(metrics)])
    pooled = pd.read_csv(out).set_index("quantity").value
    resnets = pd.read_csv(metrics).query("model != 'vit_b_32'")
    expected = dimensionality_correlations(wide_metrics(resnets, ["effective_dim", "smoothness", "top1"]), "top1")
    assert pooled["n_models"] == 4
    assert pooled.to_dict() == pytest.approx(expected.set_index("quantity").value.to_dict(), nan_ok=True)


def test_prior_models_as_published_come_from_the_paper_numbers_with_their_source(tmp_path):
    """Section 3.1 / Figure 2A: "TDANNs exhibited a 6% drop in performance ... 41% drop for LLCNN-G, from
    baseline"; Figure 2B draws Topoformer's "reported topography", Figure 3A TDANN's performance. Values the
    paper prints are in the table with their source; values only in its plots are NaN, never guessed."""
    from toponets.cli import tables as tables_cli
    from toponets.comparison.paper import PAPER_NUMBERS, prior_models_table

    out = tmp_path / "prior_models.csv"
    tables_cli.main(["prior-models", "--out", str(out), str(PAPER_NUMBERS)])
    table = pd.read_csv(out)
    assert table.equals(prior_models_table())
    assert list(table.columns) == ["figure", "model", "metric", "value", "baseline", "source"]
    assert set(zip(table.figure, table.model)) == {("2A", "TDANN"), ("2A", "LLCNN-G"), ("2B", "Topoformer"),
                                                   ("3A", "TDANN")}
    printed = table.dropna(subset=["value"]).set_index(["figure", "model", "metric"]).value
    assert printed.to_dict() == {("2A", "TDANN", "top1_change"): -0.06, ("2A", "LLCNN-G", "top1_change"): -0.41,
                                 ("3A", "TDANN", "top1_change"): -0.06}
    assert table.source.str.len().gt(10).all() and table.source.str.contains("§3.1|Figure").all()


def test_prior_models_as_published_are_drawn_where_printed(tmp_path):
    """The published top-1 drops are drawn at this run's ResNet-18 baseline x (1 + change), labelled "as
    published"; a model with both coordinates is a point; an unprinted value draws nothing."""
    from toponets.cli import figure as figure_cli
    from toponets.figures import published as prior

    points = pd.DataFrame({"model": ["resnet18", "resnet18"], "tau": [0.0, 5.0], "top1": [0.6, 0.55],
                           "smoothness": [0.1, 0.4]})
    published = pd.DataFrame(
        [("2A", "TDANN", "top1_change", -0.06, "resnet18", "s"), ("2A", "TDANN", "smoothness", np.nan, None, "s"),
         ("2A", "LLCNN-G", "top1_change", -0.41, "resnet18", "s"), ("2A", "LLCNN-G", "smoothness", 0.3, None, "s"),
         ("2B", "Topoformer", "smoothness", np.nan, None, "s")],
        columns=["figure", "model", "metric", "value", "baseline", "source"],
    )
    assert prior.values(published[published.model == "TDANN"], points) == {"top1": pytest.approx(0.564)}
    assert prior.values(published[published.model == "LLCNN-G"], points) == {"top1": pytest.approx(0.354),
                                                                           "smoothness": 0.3}
    fig, ax = prior_axes()
    prior.draw(ax, published, "2A", "smoothness", "top1", points)
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts == ["TDANN (as published)", "LLCNN-G (as published)"]
    assert [line.get_ydata()[0] for line in ax.lines] == [pytest.approx(0.564)]  # TDANN: a line at its top-1
    assert ax.collections[0].get_offsets().tolist() == [[0.3, pytest.approx(0.354)]]  # LLCNN-G: a point
    prior.draw(ax, published, "2B", "smoothness", "blimp", points)  # Topoformer's value is not printed
    assert len(ax.texts) == 2
    fig.clf()

    metrics = pd.DataFrame([("resnet18", t, 0, m, v) for t, a, s, d in [(0, 0.6, 0.1, 9.0), (5, 0.55, 0.4, 7.0)]
                            for m, v in [("top1", a), ("smoothness", s), ("effective_dim", d)]],
                           columns=["model", "tau", "seed", "metric", "value"])
    metrics.to_csv(tmp_path / "m.csv", index=False)
    published.to_csv(tmp_path / "p.csv", index=False)
    for name in ("fig2a", "fig3"):
        figure_cli.main([name, "--table", str(tmp_path / "m.csv"), "--published", str(tmp_path / "p.csv"),
                         "--out", str(tmp_path / f"{name}.png")])
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    with pytest.raises(SystemExit):
        figure_cli.main(["fig7", "--table", str(tmp_path / "m.csv"), "--published", str(tmp_path / "p.csv"),
                         "--out", str(tmp_path / "x.png")])


def prior_axes():
    from toponets.figures.style import plt

    fig, ax = plt.subplots()
    plt.close(fig)  # drawn on, never shown or saved
    return fig, ax


def test_line_and_bar_figures_span_the_seed_range():
    """Issue "the small preset": Figures 4A/4B/10 (pruning, downsampling), 7, 11 and 12 draw the spread of the
    seeds (lowest to highest) around their mean wherever a point has more than one seed."""
    from matplotlib.collections import PolyCollection

    from toponets.figures import fig4a, fig12

    curves = pd.DataFrame(
        [("resnet18", tau, seed, fraction, "top1", change)
         for tau, seed, changes in [(0.0, 0, (0.0, -0.2)), (0.0, 1, (0.0, -0.4)), (50.0, 0, (0.0, -0.1))]
         for fraction, change in zip((0.0, 0.5), changes)],
        columns=["model", "tau", "seed", "fraction", "metric", "change"],
    )
    fig = fig4a.draw(curves)
    [ax] = fig.axes
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    spans = sorted((round(p.get_paths()[0].vertices[:, 1].min(), 6), round(p.get_paths()[0].vertices[:, 1].max(), 6))
                   for p in bands if len(p.get_paths()))
    assert (-0.4, 0.0) in spans  # the baseline's two seeds: -0.2 and -0.4 at half pruned, both 0 unpruned
    plt.close(fig)
    deltas = pd.DataFrame([("nanogpt", 0.0, seed, "shakespeare", 2, d) for seed, d in ((0, 0.1), (1, 0.3))],
                          columns=["model", "tau", "seed", "dataset", "rank", "delta"])
    fig = fig12.draw(deltas)
    whiskers = [line.get_ydata() for line in fig.axes[0].lines if len(line.get_ydata()) == 2]
    assert [sorted(map(float, y)) for y in whiskers if y[0] != y[1]] == [pytest.approx([0.1, 0.3])]
    plt.close(fig)
