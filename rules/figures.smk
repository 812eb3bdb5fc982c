# Tidy tables (results/tables) and the paper's figures (results/figures) built only from them: one rule per
# kind, a job per row of the tables below (tables: TABLES; figures: toponets.figure_table, read by tests too).
# They read a few small files: on a cluster they run on the submit host (localrule).

# name -> (the `toponets.cli.tables` kind and options, its inputs): job table_<name>, results/tables/<name>.csv
TABLES = {
    "training": ("training", per_run("results/train/{model}/tau{tau}/seed{seed}/metrics.jsonl", TRAINED_RUNS)),
    "vision_metrics": ("metrics", evals(["accuracy", "smoothness", "dimensionality"], "json", VISION_RUNS)),
    "smoothness_layers": ("per-layer --metric smoothness", evals(["smoothness"], "json", RUNS)),
    "smoothness_curves": ("curves", evals(["smoothness"], "csv", RUNS)),
    "pruning_curves": ("curves", evals(["pruning"], "csv", RUNS)),
    "language_metrics": ("metrics", evals(["lm_loss", "blimp", "smoothness", "dimensionality"], "json", LANGUAGE_RUNS)),
    "downsampling_curves": ("curves", evals(["downsampling"], "csv", LANGUAGE_RUNS)),
    "blimp_paradigms": ("curves", evals(["blimp"], "csv", LANGUAGE_RUNS)),
    "unit_voxel": ("metrics", evals(["unit_voxel"], "json", VISION_RUNS)),
    "brainscore": ("metrics", evals(["brainscore"], "json", VISION_RUNS)),
    "integration_windows": ("metrics", evals(["integration_windows"], "json", LANGUAGE_RUNS)),
    "integration_window_units": ("curves", evals(["integration_windows"], "csv", LANGUAGE_RUNS)),
    "integration_window_curves": ("curves", evals(["integration_curves"], "csv", LANGUAGE_RUNS, "integration_windows")),
    "selectivity_maps": ("curves", selectivity_evals("maps")),
    "selectivity_ssim": ("curves", selectivity_evals("ssim")),
    "lora_curves": ("curves", lora_outputs("csv")),
    "prior_models": ("prior-models", [PAPER_NUMBERS]),
    # from other tables
    "dimensionality_correlations": (f"correlations --performance top1 {models_option(VISION_POOL)}",
                                    tables("vision_metrics")),
    "language_dimensionality_correlations": ("correlations --performance perplexity", tables("language_metrics")),
    "lora_deltas": ("lora-deltas", tables("lora_curves")),
    "brainscore_regions": ("regions", tables("brainscore")),
}

for table_name, (table_kind, table_inputs) in TABLES.items():

    rule:
        name: f"table_{table_name}"
        localrule: True
        input:
            tables=table_inputs,
            code=code_of("toponets.cli.tables", *table_code(table_kind)),
        output:
            table_output(table_name),
        params:
            kind=table_kind,
        log:
            f"results/logs/tables/{table_name}.log",
        benchmark:
            f"results/benchmarks/tables/{table_name}.tsv"
        resources:
            **rule_resources("light"),
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m toponets.cli.tables {params.kind} --out {output:q} {input.tables:q} > {log:q} 2>&1"


for figure_name, figure in FIGURE_TABLE.items():

    rule:
        name: figure_name
        localrule: True
        input:
            tables=tables(*figure.tables),
            published=tables("prior_models") if figure_name in WITH_PUBLISHED else [],
            code=code_of("toponets.cli.figure", FIGURE_CLI[figure_name][0]),
        output:
            reported_figure(figure.stem),
        params:
            figure=figure_name,
            models=models_option(figure_models(figure.models)),
            published="--published" if figure_name in WITH_PUBLISHED else "",
        log:
            f"results/logs/figures/{figure_name}.log",
        benchmark:
            f"results/benchmarks/figures/{figure_name}.tsv"
        resources:
            **rule_resources("light"),
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m toponets.cli.figure {params.figure} --table {input.tables:q} {params.models} "
            "{params.published} {input.published:q} --out {output:q} > {log:q} 2>&1"
