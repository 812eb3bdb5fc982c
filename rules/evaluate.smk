# Evaluation of every checkpoint: results/eval/<analysis>/<model>/tau<tau>/seed<seed>.<ext>
CHECKPOINT = checkpoint_of  # results/train/... or, for the authors' checkpoints, results/published/...
EVAL = "results/eval/{analysis}/{{model}}/tau{{tau}}/seed{{seed}}"


# Top-1 of a classifier; of a self-supervised model (TDANN, experiments.NO_CLASSIFIER), a linear readout's.
rule accuracy:
    input:
        checkpoint=CHECKPOINT,
        stimuli="results/data/images",
        code=run_code(accuracy_entry),
    output:
        EVAL.format(analysis="accuracy") + ".json",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["accuracy"],
        entry=accuracy_entry,
        stimuli=accuracy_args,
    log:
        "results/logs/accuracy/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/accuracy/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m {params.entry} --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--batch-size {params.cfg[batch_size]} "
        "--device {params.device} --out {output:q} > {log:q} 2>&1"


rule smoothness:
    input:
        checkpoint=CHECKPOINT,
        stimuli=stimuli("smoothness"),
        code=run_code("toponets.cli.smoothness"),
    output:
        scores=EVAL.format(analysis="smoothness") + ".json",
        curves=EVAL.format(analysis="smoothness") + ".csv",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["smoothness"],
        stimuli=stimuli_args("smoothness"),
    log:
        "results/logs/smoothness/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/smoothness/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.smoothness --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--bins {params.cfg[bins]} --min-pairs {params.cfg[min_pairs]} --shuffles {params.cfg[shuffles]} "
        "--reduce {params.cfg[reduce]} --batch-size {params.cfg[batch_size]} "
        "--device {params.device} --out {output.scores:q} --curves {output.curves:q} > {log:q} 2>&1"


rule dimensionality:
    input:
        checkpoint=CHECKPOINT,
        stimuli=stimuli("dimensionality"),
        code=run_code("toponets.cli.dimensionality"),
    output:
        EVAL.format(analysis="dimensionality") + ".json",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["dimensionality"],
        stimuli=stimuli_args("dimensionality"),
        # conv channels: spatial max (TDANN); token windows: mean over tokens (METHODS §3)
        reduce=lambda w: config["evaluation"]["dimensionality"]["reduce"] if run_of(w).kind == "vision" else "mean",
    log:
        "results/logs/dimensionality/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/dimensionality/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.dimensionality --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--reduce {params.reduce} --batch-size {params.cfg[batch_size]} --device {params.device} --out {output:q} "
        "> {log:q} 2>&1"


rule pruning:
    input:
        checkpoint=CHECKPOINT,
        stimuli=lambda w: stimuli("pruning")(w) if run_of(w).kind == "vision" else validation_text(w),
        code=run_code("toponets.cli.pruning"),
    output:
        EVAL.format(analysis="pruning") + ".csv",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["pruning"],
        levels=pruning_levels(config["evaluation"]),
        stimuli=lambda w, input: stimuli_args("pruning", "max_images")(w, input) if run_of(w).kind == "vision"
        else lm_val_args(w, input),
    log:
        "results/logs/pruning/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/pruning/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.pruning --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--batch-size {params.cfg[batch_size]} {params.levels} --scope {params.cfg[scope]} "
        "--device {params.device} --out {output:q} > {log:q} 2>&1"


rule lm_loss:
    input:
        checkpoint=CHECKPOINT,
        stimuli=perplexity_text,
        code=run_code("toponets.cli.lm_loss"),
    output:
        EVAL.format(analysis="lm_loss") + ".json",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["lm_loss"],
        stimuli=perplexity_args,
    log:
        "results/logs/lm_loss/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/lm_loss/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.lm_loss --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--batch-size {params.cfg[batch_size]} --device {params.device} --out {output:q} > {log:q} 2>&1"


rule blimp:
    input:
        checkpoint=CHECKPOINT,
        blimp=sources_input("blimp"),
        tokenizer=sources_input("tokenizer"),
        code=run_code("toponets.cli.blimp"),
    output:
        scores=EVAL.format(analysis="blimp") + ".json",
        paradigms=EVAL.format(analysis="blimp") + ".csv",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["blimp"],
        tokenizer=lambda w, input: tokenizer_dir(input),
        limit=f"--max-pairs {config['evaluation']['blimp']['max_pairs']}" if config["evaluation"]["blimp"]["max_pairs"] else "",
    log:
        "results/logs/blimp/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/blimp/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.blimp --checkpoint {input.checkpoint:q} --blimp {input.blimp:q} "
        "--tokenizer {params.tokenizer:q} {params.limit} --batch-size {params.cfg[batch_size]} "
        "--device {params.device} --out {output.scores:q} --paradigms-out {output.paradigms:q} > {log:q} 2>&1"


rule downsampling:
    input:
        checkpoint=CHECKPOINT,
        stimuli=validation_text,
        blimp=sources_input("blimp"),
        tokenizer=sources_input("tokenizer"),
        code=run_code("toponets.cli.downsampling"),
    output:
        EVAL.format(analysis="downsampling") + ".csv",
    params:
        device=DEVICE,
        stimuli=lm_val_args,
        factors=",".join(str(f) for f in config["evaluation"]["downsampling"]["factors"]),
        batch_size=config["evaluation"]["lm_loss"]["batch_size"],
        tokenizer=lambda w, input: tokenizer_dir(input),
        blimp_limit=f"--max-pairs {config['evaluation']['blimp']['max_pairs']}"
        if config["evaluation"]["blimp"]["max_pairs"] else "",
    log:
        "results/logs/downsampling/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/downsampling/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.downsampling --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--factors {params.factors} --metrics val_loss,blimp --blimp {input.blimp:q} --tokenizer {params.tokenizer:q} "
        "{params.blimp_limit} --batch-size {params.batch_size} --device {params.device} --out {output:q} > {log:q} 2>&1"
