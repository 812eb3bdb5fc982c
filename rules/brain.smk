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
        **rule_resources("light"),
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
        cfg=config["evaluation"]["unit_voxel"],
        neural=neural_args,
        layer=lambda w: f"--layer {config['evaluation']['unit_voxel']['layer']}"
        if config["evaluation"]["unit_voxel"]["layer"] else "",
    log:
        "results/logs/unit_voxel/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/unit_voxel/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.unit_voxel --checkpoint {input.checkpoint:q} --neural {params.neural} {params.layer} "
        "--res {params.cfg[res]} --batch-size {params.cfg[batch_size]} --matching {params.cfg[matching]} "
        "--ceiling {params.cfg[ceiling]} --device {params.device} --out {output.scores:q} --voxels {output.voxels:q} "
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
        cfg=config["evaluation"]["integration_windows"],
        tokenizer=lambda w, input: tokenizer_dir(input),
    log:
        "results/logs/integration_windows/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/integration_windows/{model}/tau{tau}/seed{seed}.tsv"
    threads: lambda w: config["evaluation"]["integration_windows"]["workers"]
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.integration_windows --checkpoint {input.checkpoint:q} --brown {input.brown:q} "
        "--tokenizer {params.tokenizer:q} --n-sequences {params.cfg[n_sequences]} --length {params.cfg[length]} "
        "--window {params.cfg[window]} --seed {params.cfg[seed]} --batch-size {params.cfg[batch_size]} "
        "--tap {params.cfg[tap]} --workers {threads} --device {params.device} "
        "--yoking-sequences {params.cfg[yoking_sequences]} --sentence-length {params.cfg[sentence_length]} "
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
        cfg=config["evaluation"]["selectivity"],
        limit=f"--max-per-category {config['evaluation']['selectivity']['max_per_category']}"
        if config["evaluation"]["selectivity"]["max_per_category"] else "",
        untrained=lambda w: "--untrained --init-seed 0" if w.analysis == "selectivity_untrained" else "",
    log:
        "results/logs/{analysis}/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/{analysis}/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.selectivity --checkpoint {input.checkpoint:q} {params.untrained} --floc {input.floc:q} "
        "--animacy-size {input.animacy_size:q} --realworld-size {input.realworld_size:q} --res {params.cfg[res]} "
        "{params.limit} --reduce {params.cfg[reduce]} --late-fraction {params.cfg[late_fraction]} "
        "--shuffles {params.cfg[shuffles]} --batch-size {params.cfg[batch_size]} --device {params.device} "
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
        args=brainscore_args,
    log:
        "results/logs/brainscore/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/brainscore/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/brainscore.yaml"
    shell:
        "{params.python:q} -m toponets.cli.brainscore --checkpoint {input.checkpoint:q} {params.args} --out {output:q} "
        "> {log:q} 2>&1"
