# The paper's numbers next to this run's, for `snakemake --report`: one table for every paper item, and one
# small table per item that the report shows beside the item's figure. It reads small files: on a cluster it
# runs on the submit host (localrule), as the tables and figures do.
rule paper_comparison:
    localrule: True
    input:
        tables=PLAN.compared_tables(),
        numbers=PAPER_NUMBERS,
        code=code_of("toponets.cli.paper_comparison"),
    output:
        table=report("results/tables/paper_vs_run.csv", caption=str(REPORT / "captions" / "paper_vs_run.rst"),
                     category="Paper vs this run"),
        per_item=report(directory("results/report/paper_vs_run"), patterns=["{item}.csv"],
                     caption=str(REPORT / "captions" / "paper_vs_run_item.rst"),
                     category=lambda w: report_category(w.item)),
    params:
        families=lambda w: PLAN.families_json(),
    log:
        "results/logs/tables/paper_vs_run.log",
    benchmark:
        "results/benchmarks/tables/paper_vs_run.tsv"
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.paper_comparison --tables {input.tables:q} --families {params.families:q} "
        "--out {output.table:q} --out-dir {output.per_item:q} > {log:q} 2>&1"
