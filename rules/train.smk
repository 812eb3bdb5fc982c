# Training: one job per (experiment, tau, seed), vision or language. The resumable state lives in
# resume/, which is not a declared output, so a killed or preempted job continues where it stopped
# when rerun. A job with more than one GPU runs under torchrun (DistributedDataParallel).
TRAIN_DIR = "results/train/{model}/tau{tau}/seed{seed}"


rule train:
    input:
        data=PLAN.train_inputs,
        code=run_code(PLAN.train_entry),
    output:
        checkpoint=f"{TRAIN_DIR}/model.safetensors",
        meta=f"{TRAIN_DIR}/model.json",
        metrics=f"{TRAIN_DIR}/metrics.jsonl",
    params:
        device=DEVICE,
        spec=PLAN.spec_json,
        command=PLAN.train_command,
        launcher=lambda w, resources: launcher(resources.gpu),
        resume=lambda w: f"{PLAN.run_dir(w)}/resume",
    log:
        f"results/logs/train/{{model}}/tau{{tau}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/train/{{model}}/tau{{tau}}/seed{{seed}}.tsv"
    threads: lambda w: config["resources"]["train"].get("threads", workflow.cores)
    resources:
        **PLAN.train_resources(),
    conda:
        "../envs/torch.yaml"
    shell:
        "{params.launcher} {params.command} --spec {params.spec:q} "
        "--out {output.checkpoint:q} --metrics {params.resume:q}/metrics.jsonl --state {params.resume:q}/state.pt "
        "--device {params.device} --threads {threads} > {log:q} 2>&1 "
        "&& cp {params.resume:q}/metrics.jsonl {output.metrics:q} && rm -r {params.resume:q}"


# The authors' released checkpoints (published_checkpoints: true, experiments[].checkpoints; TDANN's always,
# with its unit positions) stand in for training: each is converted once to our checkpoint format, and every evaluation reads it from here.
rule import_checkpoint:
    input:
        weights=published_weights,
        positions=published_positions,
        code=run_code("toponets.cli.import_checkpoint"),
    output:
        checkpoint="results/published/{model}/tau{tau}/seed{seed}/model.safetensors",
        meta="results/published/{model}/tau{tau}/seed{seed}/model.json",
    params:
        spec=PLAN.spec_json,
        positions=lambda w, input: repeated("--positions", input.positions),
    log:
        "results/logs/import_checkpoint/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/import_checkpoint/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.import_checkpoint --weights {input.weights:q} --spec {params.spec:q} "
        "{params.positions} --out {output.checkpoint:q} > {log:q} 2>&1"


# The smoke preset's stand-in for TDANN's released files: random weights and positions in their formats.
rule tdann_test_files:
    input:
        code=code_of("toponets.cli.tdann_test_files"),
    output:
        weights="results/tdann_test/size{size}/model_final_checkpoint_phase0.torch",
        positions=directory("results/tdann_test/size{size}/positions"),
    log:
        "results/logs/tdann_test_files/size{size}.log",
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.tdann_test_files --image-size {wildcards.size} --weights {output.weights:q} "
        "--positions {output.positions:q} > {log:q} 2>&1"
