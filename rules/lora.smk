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
