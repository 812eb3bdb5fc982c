# Tidy tables (results/tables) and the paper's figures (results/figures) built only from them: one rule per
# kind, a job per row of their tables (tables: toponets.workflow_plan.Plan.tables_plan; figures:
# toponets.figure_table, read by tests too).
# They read a few small files: on a cluster they run on the submit host (localrule).

# name -> (the `toponets.cli.tables` kind and options, its inputs): job table_<name>, results/tables/<name>.csv
TABLES = PLAN.tables_plan()

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
            **PLAN.rule_resources("light"),
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m toponets.cli.tables {params.kind} --out {output:q} {input.tables:q} > {log:q} 2>&1"


for figure_name, figure in FIGURE_TABLE.items():

    rule:
        name: figure_name
        localrule: True
        input:
            tables=PLAN.tables(*figure.tables),
            published=PLAN.tables("prior_models") if figure_name in WITH_PUBLISHED else [],
            code=code_of("toponets.cli.figure", FIGURE_CLI[figure_name][0]),
        output:
            reported_figure(figure.stem),
        params:
            figure=figure_name,
            models=models_option(PLAN.figure_models(figure.models)),
            published="--published" if figure_name in WITH_PUBLISHED else "",
        log:
            f"results/logs/figures/{figure_name}.log",
        benchmark:
            f"results/benchmarks/figures/{figure_name}.tsv"
        resources:
            **PLAN.rule_resources("light"),
        conda:
            "../envs/torch.yaml"
        shell:
            "python -m toponets.cli.figure {params.figure} --table {input.tables:q} {params.models} "
            "{params.published} {input.published:q} --out {output:q} > {log:q} 2>&1"
