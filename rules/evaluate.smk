# Evaluation of every checkpoint: results/eval/<analysis>/<model>/tau<tau>/seed<seed>.<ext>
CHECKPOINT = "results/train/{model}/tau{tau}/seed{seed}/model.safetensors"
EVAL = "results/eval/{analysis}/{{model}}/tau{{tau}}/seed{{seed}}"


rule accuracy:
    input:
        checkpoint=CHECKPOINT,
        images="results/data/images",
        code=code("cli/accuracy.py", "analysis/accuracy.py", "data/images.py", "checkpoints.py"),
    output:
        EVAL.format(analysis="accuracy") + ".json",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["accuracy"],
        limit=lambda w: f"--max-images {config['evaluation']['accuracy']['max_images']}"
        if config["evaluation"]["accuracy"]["max_images"] else "",
    log:
        "results/logs/accuracy/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/accuracy/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.accuracy --checkpoint {input.checkpoint} --images {input.images}/val "
        "--res {params.cfg[res]} --batch-size {params.cfg[batch_size]} {params.limit} "
        "--device {params.device} --out {output} > {log} 2>&1"


rule smoothness:
    input:
        checkpoint=CHECKPOINT,
        images="results/data/images",
        code=code(
            "cli/smoothness.py", "analysis/smoothness.py", "analysis/activations.py", "sheet.py",
            "data/images.py", "checkpoints.py",
        ),
    output:
        scores=EVAL.format(analysis="smoothness") + ".json",
        curves=EVAL.format(analysis="smoothness") + ".csv",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["smoothness"],
    log:
        "results/logs/smoothness/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/smoothness/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.smoothness --checkpoint {input.checkpoint} --images {input.images}/val "
        "--res {params.cfg[res]} --n-images {params.cfg[n_images]} --bins {params.cfg[bins]} "
        "--reduce {params.cfg[reduce]} --batch-size {params.cfg[batch_size]} --device {params.device} "
        "--out {output.scores} --curves {output.curves} > {log} 2>&1"


rule dimensionality:
    input:
        checkpoint=CHECKPOINT,
        images="results/data/images",
        code=code(
            "cli/dimensionality.py", "analysis/dimensionality.py", "analysis/activations.py", "data/images.py",
            "checkpoints.py",
        ),
    output:
        EVAL.format(analysis="dimensionality") + ".json",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["dimensionality"],
    log:
        "results/logs/dimensionality/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/dimensionality/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.dimensionality --checkpoint {input.checkpoint} --images {input.images}/val "
        "--res {params.cfg[res]} --n-images {params.cfg[n_images]} --reduce {params.cfg[reduce]} "
        "--batch-size {params.cfg[batch_size]} --device {params.device} --out {output} > {log} 2>&1"


rule pruning:
    input:
        checkpoint=CHECKPOINT,
        images="results/data/images",
        code=code("cli/pruning.py", "analysis/pruning.py", "analysis/accuracy.py", "data/images.py", "checkpoints.py"),
    output:
        EVAL.format(analysis="pruning") + ".csv",
    params:
        device=DEVICE,
        cfg=config["evaluation"]["pruning"],
        fractions=",".join(str(f) for f in config["evaluation"]["pruning"]["fractions"]),
        limit=lambda w: f"--max-images {config['evaluation']['pruning']['max_images']}"
        if config["evaluation"]["pruning"]["max_images"] else "",
    log:
        "results/logs/pruning/{model}/tau{tau}/seed{seed}.log",
    benchmark:
        "results/benchmarks/pruning/{model}/tau{tau}/seed{seed}.tsv"
    resources:
        **rule_resources("evaluate"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.pruning --checkpoint {input.checkpoint} --images {input.images}/val "
        "--res {params.cfg[res]} --batch-size {params.cfg[batch_size]} {params.limit} --fractions {params.fractions} "
        "--scope {params.cfg[scope]} --device {params.device} --out {output} > {log} 2>&1"
