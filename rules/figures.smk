# Tidy tables (results/tables) and the paper's figures (results/figures) built only from them.
rule table_training:
    input:
        logs=per_run("results/train/{model}/tau{tau}/seed{seed}/metrics.jsonl", TRAINED_RUNS),
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/training.csv",
    log:
        "results/logs/tables/training.log",
    benchmark:
        "results/benchmarks/tables/training.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables training --out {output:q} {input.logs:q} > {log:q} 2>&1"


rule table_vision_metrics:
    input:
        evals=[
            path
            for analysis in ("accuracy", "smoothness", "dimensionality")
            for path in per_run(f"results/eval/{analysis}/{{model}}/tau{{tau}}/seed{{seed}}.json", VISION_RUNS)
        ],
        code=code_of("toponets.cli.tables"),
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
        "python -m toponets.cli.tables metrics --out {output:q} {input.evals:q} > {log:q} 2>&1"


rule table_smoothness_layers:
    input:
        evals=per_run("results/eval/smoothness/{model}/tau{tau}/seed{seed}.json", RUNS),
        code=code_of("toponets.cli.tables"),
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
        "python -m toponets.cli.tables per-layer --metric smoothness --out {output:q} {input.evals:q} > {log:q} 2>&1"


rule table_smoothness_curves:
    input:
        curves=per_run("results/eval/smoothness/{model}/tau{tau}/seed{seed}.csv", RUNS),
        code=code_of("toponets.cli.tables"),
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
        "python -m toponets.cli.tables curves --out {output:q} {input.curves:q} > {log:q} 2>&1"


rule table_prior_models:
    input:
        numbers=PAPER_NUMBERS,
        code=code_of("toponets.cli.tables", "toponets.paper_comparison"),
    output:
        "results/tables/prior_models.csv",
    log:
        "results/logs/tables/prior_models.log",
    benchmark:
        "results/benchmarks/tables/prior_models.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables prior-models --out {output:q} {input.numbers:q} > {log:q} 2>&1"


rule fig2a:
    input:
        table="results/tables/vision_metrics.csv",
        published="results/tables/prior_models.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig2a"),
    output:
        reported_figure("fig2a_topography_vs_accuracy"),
    log:
        "results/logs/figures/fig2a.log",
    benchmark:
        "results/benchmarks/figures/fig2a.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig2a --table {input.table:q} --published {input.published:q} --out {output:q} "
        "> {log:q} 2>&1"



rule fig7:
    input:
        table="results/tables/smoothness_curves.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig7"),
    output:
        reported_figure("fig7_correlation_vs_distance"),
    log:
        "results/logs/figures/fig7.log",
    benchmark:
        "results/benchmarks/figures/fig7.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig7 --table {input.table:q} --out {output:q} > {log:q} 2>&1"


rule table_pruning_curves:
    input:
        curves=per_run("results/eval/pruning/{model}/tau{tau}/seed{seed}.csv", RUNS),
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/pruning_curves.csv",
    log:
        "results/logs/tables/pruning_curves.log",
    benchmark:
        "results/benchmarks/tables/pruning_curves.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables curves --out {output:q} {input.curves:q} > {log:q} 2>&1"


rule table_dimensionality_correlations:
    input:
        table="results/tables/vision_metrics.csv",
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/dimensionality_correlations.csv",
    params:
        pool=f"--models {' '.join(VISION_POOL)}" if VISION_POOL else "",
    log:
        "results/logs/tables/dimensionality_correlations.log",
    benchmark:
        "results/benchmarks/tables/dimensionality_correlations.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables correlations --performance top1 {params.pool} --out {output:q} "
        "{input.table:q} > {log:q} 2>&1"


rule fig3:
    input:
        table="results/tables/vision_metrics.csv",
        published="results/tables/prior_models.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig3"),
    output:
        reported_figure("fig3_dimensionality"),
    params:
        pool=f"--models {' '.join(VISION_POOL)}" if VISION_POOL else "",
    log:
        "results/logs/figures/fig3.log",
    benchmark:
        "results/benchmarks/figures/fig3.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig3 --table {input.table:q} {params.pool} --published {input.published:q} "
        "--out {output:q} > {log:q} 2>&1"


rule fig4a:
    input:
        table="results/tables/pruning_curves.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig4a"),
    output:
        reported_figure("fig4a_pruning"),
    log:
        "results/logs/figures/fig4a.log",
    benchmark:
        "results/benchmarks/figures/fig4a.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig4a --table {input.table:q} --out {output:q} > {log:q} 2>&1"


rule table_language_metrics:
    input:
        evals=[
            path
            for analysis in ("lm_loss", "blimp", "smoothness", "dimensionality")
            for path in per_run(f"results/eval/{analysis}/{{model}}/tau{{tau}}/seed{{seed}}.json", LANGUAGE_RUNS)
        ],
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/language_metrics.csv",
    log:
        "results/logs/tables/language_metrics.log",
    benchmark:
        "results/benchmarks/tables/language_metrics.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables metrics --out {output:q} {input.evals:q} > {log:q} 2>&1"


rule table_downsampling_curves:
    input:
        evals=per_run("results/eval/downsampling/{model}/tau{tau}/seed{seed}.csv", LANGUAGE_RUNS),
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/downsampling_curves.csv",
    log:
        "results/logs/tables/downsampling_curves.log",
    benchmark:
        "results/benchmarks/tables/downsampling_curves.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables curves --out {output:q} {input.evals:q} > {log:q} 2>&1"


rule table_blimp_paradigms:
    input:
        evals=per_run("results/eval/blimp/{model}/tau{tau}/seed{seed}.csv", LANGUAGE_RUNS),
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/blimp_paradigms.csv",
    log:
        "results/logs/tables/blimp_paradigms.log",
    benchmark:
        "results/benchmarks/tables/blimp_paradigms.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables curves --out {output:q} {input.evals:q} > {log:q} 2>&1"


rule table_language_dimensionality_correlations:
    input:
        evals="results/tables/language_metrics.csv",
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/language_dimensionality_correlations.csv",
    log:
        "results/logs/tables/language_dimensionality_correlations.log",
    benchmark:
        "results/benchmarks/tables/language_dimensionality_correlations.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables correlations --performance perplexity --out {output:q} {input.evals:q} > {log:q} 2>&1"


rule fig2b:
    input:
        table="results/tables/language_metrics.csv",
        published="results/tables/prior_models.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig2a"),
    output:
        reported_figure("fig2b_topography_vs_blimp"),
    log:
        "results/logs/figures/fig2b.log",
    benchmark:
        "results/benchmarks/figures/fig2b.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig2b --table {input.table:q} --published {input.published:q} --out {output:q} "
        "> {log:q} 2>&1"


rule fig4b:
    input:
        table="results/tables/downsampling_curves.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig4b"),
    output:
        reported_figure("fig4b_downsampling_gpt_neo"),
    params:
        models=lambda w: " ".join(sorted({r.model for r in LANGUAGE_RUNS if r.family == "gpt_neo"})),
    log:
        "results/logs/figures/fig4b.log",
    benchmark:
        "results/benchmarks/figures/fig4b.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig4b --table {input.table:q} --models {params.models} --out {output:q} > {log:q} 2>&1"


rule fig9:
    input:
        table="results/tables/language_metrics.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig3"),
    output:
        reported_figure("fig9_dimensionality_vs_perplexity"),
    log:
        "results/logs/figures/fig9.log",
    benchmark:
        "results/benchmarks/figures/fig9.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig9 --table {input.table:q} --out {output:q} > {log:q} 2>&1"


rule fig10:
    input:
        table="results/tables/downsampling_curves.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig4b"),
    output:
        reported_figure("fig10_downsampling_nanogpt"),
    params:
        models=lambda w: " ".join(sorted({r.model for r in LANGUAGE_RUNS if r.family == "nanogpt"})),
    log:
        "results/logs/figures/fig10.log",
    benchmark:
        "results/benchmarks/figures/fig10.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig10 --table {input.table:q} --models {params.models} --out {output:q} > {log:q} 2>&1"


rule fig6:
    input:
        tables=["results/tables/training.csv", "results/tables/language_metrics.csv"],
        code=code_of("toponets.cli.figure", "toponets.figures.fig6"),
    output:
        reported_figure("fig6_tokens_vs_blimp"),
    params:
        models=lambda w: " ".join(sorted({r.model for r in LANGUAGE_RUNS if r.family == "nanogpt"})),
    log:
        "results/logs/figures/fig6.log",
    benchmark:
        "results/benchmarks/figures/fig6.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure fig6 --table {input.tables:q} --models {params.models} --out {output:q} > {log:q} 2>&1"
