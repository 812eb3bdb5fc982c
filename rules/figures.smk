# Tidy tables (results/tables) and the paper's figures (results/figures) built only from them.
FIG_FORMATS = config["figures"]["formats"]


def figure_outputs(name):
    return [f"results/figures/{name}.{fmt}" for fmt in FIG_FORMATS]


rule table_vision_metrics:
    input:
        evals=per_run("results/eval/accuracy/{model}/tau{tau}/seed{seed}.json", VISION_RUNS)
        + per_run("results/eval/smoothness/{model}/tau{tau}/seed{seed}.json", VISION_RUNS),
        code=code("cli/tables.py", "tables.py"),
    output:
        "results/tables/vision_metrics.csv",
    log:
        "results/logs/tables/vision_metrics.log",
    benchmark:
        "results/benchmarks/tables/vision_metrics.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables metrics --out {output} {input.evals} > {log} 2>&1"


rule table_smoothness_layers:
    input:
        evals=per_run("results/eval/smoothness/{model}/tau{tau}/seed{seed}.json", VISION_RUNS),
        code=code("cli/tables.py", "tables.py"),
    output:
        "results/tables/smoothness_layers.csv",
    log:
        "results/logs/tables/smoothness_layers.log",
    benchmark:
        "results/benchmarks/tables/smoothness_layers.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables per-layer --metric smoothness --out {output} {input.evals} > {log} 2>&1"


rule table_smoothness_curves:
    input:
        curves=per_run("results/eval/smoothness/{model}/tau{tau}/seed{seed}.csv", VISION_RUNS),
        code=code("cli/tables.py", "tables.py"),
    output:
        "results/tables/smoothness_curves.csv",
    log:
        "results/logs/tables/smoothness_curves.log",
    benchmark:
        "results/benchmarks/tables/smoothness_curves.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables curves --out {output} {input.curves} > {log} 2>&1"


rule fig2a:
    input:
        table="results/tables/vision_metrics.csv",
        code=code("cli/figure.py", "figures/fig2a.py", "figures/style.py"),
    output:
        figure_outputs("fig2a_topography_vs_accuracy"),
    log:
        "results/logs/figures/fig2a.log",
    benchmark:
        "results/benchmarks/figures/fig2a.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig2a --table {input.table} --out {output} > {log} 2>&1"


def all_targets():
    """Every table and figure the implemented stages produce for this config."""
    if not VISION_RUNS:
        return []
    return [
        "results/tables/vision_metrics.csv",
        "results/tables/smoothness_layers.csv",
        "results/tables/smoothness_curves.csv",
        *figure_outputs("fig2a_topography_vs_accuracy"),
    ]
