# LoRA fine-tuning of trained language models (appendix A.11), for Figures 11 and 12 (rules/figures.smk).


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
        settings=PLAN.settings("lora"),
    log:
        "results/logs/lora-{corpus}/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/lora-{corpus}/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.lora --checkpoint {input.checkpoint:q} --text {input.text:q} --dataset {wildcards.corpus} "
        "--settings {params.settings:q} --device {params.device} --out {output.scores:q} --curve {output.curve:q} > {log:q} 2>&1"
