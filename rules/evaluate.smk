# Evaluation of every checkpoint: results/eval/<analysis>/<model>/tau<tau>/seed<seed>.<ext>
CHECKPOINT = PLAN.checkpoint  # results/train/... or, for the authors' checkpoints, results/published/...
EVAL = "results/eval/{analysis}/{{model}}/tau{{tau}}/seed{{seed}}"


# Top-1 of a classifier; of a self-supervised model (TDANN, experiments.NO_CLASSIFIER), a linear readout's.
rule accuracy:
    input:
        checkpoint=CHECKPOINT,
        stimuli="results/data/images",
        code=run_code(PLAN.accuracy_entry),
    output:
        EVAL.format(analysis="accuracy") + ".json",
    params:
        device=DEVICE,
        settings=PLAN.accuracy_settings,
        entry=PLAN.accuracy_entry,
        stimuli=PLAN.accuracy_args,
    log:
        "results/logs/accuracy/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/accuracy/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m {params.entry} --checkpoint {input.checkpoint:q} {params.stimuli} --settings {params.settings:q} "
        "--device {params.device} --out {output:q} > {log:q} 2>&1"


rule smoothness:
    input:
        checkpoint=CHECKPOINT,
        stimuli=PLAN.stimuli("smoothness"),
        code=run_code("toponets.cli.smoothness"),
    output:
        scores=EVAL.format(analysis="smoothness") + ".json",
        curves=EVAL.format(analysis="smoothness") + ".csv",
    params:
        device=DEVICE,
        settings=PLAN.settings("smoothness"),
        stimuli=PLAN.stimulus_args(),
    log:
        "results/logs/smoothness/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/smoothness/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.smoothness --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--settings {params.settings:q} --device {params.device} --out {output.scores:q} --curves {output.curves:q} > {log:q} 2>&1"


rule dimensionality:
    input:
        checkpoint=CHECKPOINT,
        stimuli=PLAN.stimuli("dimensionality"),
        code=run_code("toponets.cli.dimensionality"),
    output:
        EVAL.format(analysis="dimensionality") + ".json",
    params:
        device=DEVICE,
        settings=PLAN.settings("dimensionality"),
        stimuli=PLAN.stimulus_args(),
    log:
        "results/logs/dimensionality/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/dimensionality/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.dimensionality --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--settings {params.settings:q} --device {params.device} --out {output:q} > {log:q} 2>&1"


rule pruning:
    input:
        checkpoint=CHECKPOINT,
        stimuli=PLAN.pruning_stimuli,
        code=run_code("toponets.cli.pruning"),
    output:
        EVAL.format(analysis="pruning") + ".csv",
    params:
        device=DEVICE,
        settings=PLAN.settings("pruning"),
        stimuli=PLAN.stimulus_args("--val-text"),
    log:
        "results/logs/pruning/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/pruning/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.pruning --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--settings {params.settings:q} --device {params.device} --out {output:q} > {log:q} 2>&1"


rule lm_loss:
    input:
        checkpoint=CHECKPOINT,
        stimuli=PLAN.perplexity_text,
        code=run_code("toponets.cli.lm_loss"),
    output:
        EVAL.format(analysis="lm_loss") + ".json",
    params:
        device=DEVICE,
        settings=PLAN.settings("lm_loss"),
        stimuli=PLAN.perplexity_args,
    log:
        "results/logs/lm_loss/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/lm_loss/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.lm_loss --checkpoint {input.checkpoint:q} {params.stimuli} "
        "--settings {params.settings:q} --device {params.device} --out {output:q} > {log:q} 2>&1"


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
        settings=PLAN.settings("blimp"),
        tokenizer=lambda w, input: tokenizer_dir(input.tokenizer),
    log:
        "results/logs/blimp/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/blimp/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.blimp --checkpoint {input.checkpoint:q} --blimp {input.blimp:q} "
        "--tokenizer {params.tokenizer:q} --settings {params.settings:q} "
        "--device {params.device} --out {output.scores:q} --paradigms-out {output.paradigms:q} > {log:q} 2>&1"


rule downsampling:
    input:
        checkpoint=CHECKPOINT,
        stimuli=PLAN.validation_text,
        blimp=sources_input("blimp"),
        tokenizer=sources_input("tokenizer"),
        code=run_code("toponets.cli.downsampling"),
    output:
        EVAL.format(analysis="downsampling") + ".csv",
    params:
        device=DEVICE,
        settings=PLAN.settings("downsampling"),
        tokenizer=lambda w, input: tokenizer_dir(input.tokenizer),
    log:
        "results/logs/downsampling/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/downsampling/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.downsampling --checkpoint {input.checkpoint:q} --val-text {input.stimuli:q} "
        "--settings {params.settings:q} --metrics val_loss,blimp --blimp {input.blimp:q} "
        "--tokenizer {params.tokenizer:q} --device {params.device} --out {output:q} > {log:q} 2>&1"
