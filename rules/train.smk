# Training: one job per (experiment, tau, seed). The resumable state lives in resume/, which is not
# a declared output, so a killed or preempted job continues where it stopped when rerun.
TRAIN_DIR = "results/train/{model}/tau{tau}/seed{seed}"


rule train_vision:
    input:
        data=train_inputs,
        code=code(
            "cli/train_vision.py", "train/vision.py", "train/common.py", "topoloss.py", "sheet.py",
            "models/__init__.py", "models/resnet.py", "data/images.py", "data/ffcv_data.py", "checkpoints.py",
        ),
    output:
        checkpoint=f"{TRAIN_DIR}/model.safetensors",
        meta=f"{TRAIN_DIR}/model.json",
        metrics=f"{TRAIN_DIR}/metrics.jsonl",
    params:
        device=DEVICE,
        spec=spec_json,
        data=train_data,
        resume=lambda w: f"{run_dir(w)}/resume",
    log:
        f"results/logs/train/{{model}}/tau{{tau}}/seed{{seed}}.log",
    benchmark:
        f"results/benchmarks/train/{{model}}/tau{{tau}}/seed{{seed}}.tsv"
    threads: workflow.cores
    resources:
        **rule_resources("train"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.train_vision --spec {params.spec:q} "
        "--train-dir {params.data[train]} --val-dir {params.data[val]} "
        "--out {output.checkpoint} --metrics {params.resume}/metrics.jsonl --state {params.resume}/state.pt "
        "--device {params.device} --threads {threads} > {log} 2>&1 "
        "&& cp {params.resume}/metrics.jsonl {output.metrics} && rm -r {params.resume}"
