# Brain-likeness (paper §3.4, A.7, A.8): selectivity maps, integration windows, unit-to-voxel
# correlation and BrainScore (their tables and figures: rules/figures.smk).


rule extract_stimuli:
    input:
        archive=lambda w: sources_input(f"stimuli-{w.name}")(w),
        code=code_of("toponets.cli.extract"),
    output:
        directory("results/data/stimuli/{name}"),
    log:
        "results/logs/extract_stimuli/{name}.log",
    benchmark:
        "results/benchmarks/extract_stimuli/{name}.tsv"
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.extract --archive {input.archive:q} --out {output:q} > {log:q} 2>&1"


rule unit_voxel:
    input:
        checkpoint=CHECKPOINT,
        neural=neural_input,
        code=run_code("toponets.cli.unit_voxel"),
    output:
        scores=EVAL.format(analysis="unit_voxel") + ".json",
        voxels=EVAL.format(analysis="unit_voxel") + ".csv",
    params:
        device=DEVICE,
        settings=PLAN.settings("unit_voxel"),
        neural=lambda w, input: PLAN.neural_args(input.neural),
    log:
        "results/logs/unit_voxel/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/unit_voxel/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.unit_voxel --checkpoint {input.checkpoint:q} --neural {params.neural} "
        "--settings {params.settings:q} --device {params.device} --out {output.scores:q} --voxels {output.voxels:q} "
        "> {log:q} 2>&1"


rule integration_windows:
    input:
        checkpoint=CHECKPOINT,
        brown=sources_input("brown"),
        tokenizer=sources_input("tokenizer"),
        code=run_code("toponets.cli.integration_windows"),
    output:
        scores=EVAL.format(analysis="integration_windows") + ".json",
        units=EVAL.format(analysis="integration_windows") + ".csv",
        curves=EVAL.format(analysis="integration_curves") + ".csv",
    params:
        device=DEVICE,
        settings=PLAN.settings("integration_windows"),
        tokenizer=lambda w, input: tokenizer_dir(input.tokenizer),
    log:
        "results/logs/integration_windows/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/integration_windows/{model}/tau{tau}/seed{seed}.tsv"
    threads: lambda w: config["evaluation"]["integration_windows"]["workers"]
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.integration_windows --checkpoint {input.checkpoint:q} --brown {input.brown:q} "
        "--tokenizer {params.tokenizer:q} --settings {params.settings:q} --workers {threads} --device {params.device} "
        "--out {output.scores:q} --units {output.units:q} --curves {output.curves:q} > {log:q} 2>&1"


rule selectivity:
    input:
        checkpoint=CHECKPOINT,
        floc="results/data/stimuli/floc",
        animacy_size="results/data/stimuli/animacy_size",
        realworld_size="results/data/stimuli/realworld_size",
        code=run_code("toponets.cli.selectivity"),
    output:
        scores="results/eval/{analysis}/{model}/tau{tau}/seed{seed}.json",
        maps="results/eval/{analysis}_maps/{model}/tau{tau}/seed{seed}.csv",
        ssim="results/eval/{analysis}_ssim/{model}/tau{tau}/seed{seed}.csv",
    wildcard_constraints:
        analysis="selectivity|selectivity_untrained",
    params:
        device=DEVICE,
        settings=PLAN.settings("selectivity"),
        untrained=lambda w: "--untrained --init-seed 0" if w.analysis == "selectivity_untrained" else "",
    log:
        "results/logs/{analysis}/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/{analysis}/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.selectivity --checkpoint {input.checkpoint:q} {params.untrained} --floc {input.floc:q} "
        "--animacy-size {input.animacy_size:q} --realworld-size {input.realworld_size:q} "
        "--settings {params.settings:q} --device {params.device} "
        "--maps {output.maps:q} --ssim {output.ssim:q} --out {output.scores:q} > {log:q} 2>&1"


rule brainscore:
    input:
        unpack(brainscore_inputs),
        checkpoint=CHECKPOINT,
        code=run_code("toponets.cli.brainscore"),
    output:
        EVAL.format(analysis="brainscore") + ".json",
    params:
        python=BRAINSCORE_PYTHON,
        settings=PLAN.settings("brainscore"),
        data=lambda w, input: PLAN.brainscore_args(input),
    log:
        "results/logs/brainscore/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/brainscore/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("evaluate"),
    conda:
        "../envs/brainscore.yaml"
    shell:
        "{params.python:q} -m toponets.cli.brainscore --checkpoint {input.checkpoint:q} {params.data} "
        "--settings {params.settings:q} --out {output:q} "
        "> {log:q} 2>&1"
