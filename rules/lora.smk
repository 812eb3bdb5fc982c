# LoRA fine-tuning of trained language models (appendix A.11): Figures 11 and 12.


rule lora:
    input:
        checkpoint=CHECKPOINT,
        text=lambda w: corpus_dir(w.corpus),
        code=run_code("toponets.cli.lora"),
    output:
        scores="results/eval/lora-{corpus}/{model}/tau{tau}/seed{seed}.json",
        curve="results/eval/lora-{corpus}/{model}/tau{tau}/seed{seed}.csv",
    params:
        device=DEVICE,
        cfg=LORA,
        ranks=" ".join(str(r) for r in LORA["ranks"]),
        targets=" ".join(LORA["targets"]),
        alpha=f"--alpha {LORA['alpha']}" if LORA["alpha"] else "",
    log:
        "results/logs/lora-{corpus}/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/lora-{corpus}/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.lora --checkpoint {input.checkpoint:q} --text {input.text:q} --dataset {wildcards.corpus} "
        "--rank {params.ranks} {params.alpha} --dropout {params.cfg[dropout]} --targets {params.targets} "
        "--lr {params.cfg[lr]} --steps {params.cfg[steps]} --batch-size {params.cfg[batch_size]} "
        "--length {params.cfg[length]} --eval-every {params.cfg[eval_every]} --n-samples {params.cfg[n_samples]} "
        "--device {params.device} --out {output.scores:q} --curve {output.curve:q} > {log:q} 2>&1"


rule table_lora_curves:
    input:
        curves=lora_outputs("csv"),
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/lora_curves.csv",
    params:
        kind="curves",
    log:
        "results/logs/tables/lora_curves.log",
    benchmark:
        "results/benchmarks/tables/lora_curves.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tables {params.kind} --out {output:q} {input.curves:q} > {log:q} 2>&1"


use rule table_lora_curves as table_lora_deltas with:
    input:
        curves="results/tables/lora_curves.csv",
        code=code_of("toponets.cli.tables"),
    output:
        "results/tables/lora_deltas.csv",
    params:
        kind="lora-deltas",
    log:
        "results/logs/tables/lora_deltas.log",
    benchmark:
        "results/benchmarks/tables/lora_deltas.tsv"


rule fig11:
    input:
        table="results/tables/lora_curves.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig11"),
    output:
        reported_figure("fig11_lora_curves"),
    params:
        figure="fig11",
    log:
        "results/logs/figures/fig11.log",
    benchmark:
        "results/benchmarks/figures/fig11.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.figure {params.figure} --table {input.table:q} --out {output:q} > {log:q} 2>&1"


use rule fig11 as fig12 with:
    input:
        table="results/tables/lora_deltas.csv",
        code=code_of("toponets.cli.figure", "toponets.figures.fig12"),
    output:
        reported_figure("fig12_lora_deltas"),
    params:
        figure="fig12",
    log:
        "results/logs/figures/fig12.log",
    benchmark:
        "results/benchmarks/figures/fig12.tsv"
