# Dataset preparation: fetch sources (user path, mirror or download), build ImageFolder datasets
# and tokenized text corpora.
rule fetch:
    output:
        "resources/downloads/{dataset}/{filename}",
    params:
        source=planned(PLAN.download_source),
        # config `mirror`, resolved; else the job reads $TOPONETS_MIRROR itself (a param would rerun every fetch
        # whenever the variable changes)
        mirror=PLAN.mirror_option(),
    log:
        "results/logs/fetch/{dataset}/{filename}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}/{filename}.tsv"
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.fetch --source {params.source:q} --dest-dir resources/downloads/{wildcards.dataset} "
        "{params.mirror} > {log:q} 2>&1"


rule prepare_images:
    input:
        source=sources_input("images"),
        code=code_of("toponets.cli.prepare_images"),
    output:
        directory("results/data/images"),
    params:
        how=lambda w, input: PLAN.images_command(input.source),
    log:
        "results/logs/prepare_images.log",
    benchmark:
        "results/benchmarks/prepare_images.tsv"
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.prepare_images {params.how} --out {output:q} > {log:q} 2>&1"


rule write_beton:
    input:
        images="results/data/images",
        code=code_of("toponets.cli.write_beton"),
    output:
        "results/data/images_ffcv/{split}.beton",
    params:
        workers=lambda w, threads: threads,
    log:
        "results/logs/write_beton/{split}.log",
    benchmark:
        "results/benchmarks/write_beton/{split}.tsv"
    threads: 16
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.write_beton --folder {input.images:q}/{wildcards.split} --out {output:q} "
        "--workers {threads} > {log:q} 2>&1"


rule prepare_text:
    input:
        sources=lambda w: sources_input(f"corpus-{w.corpus}")(w),
        tokenizer=sources_input("tokenizer"),
        code=code_of("toponets.cli.prepare_text"),
    output:
        directory("results/data/text/{corpus}"),
    params:
        corpus=PLAN.corpus_arguments,
        tokenizer=lambda w, input: tokenizer_dir(input.tokenizer),
    log:
        "results/logs/prepare_text/{corpus}.log",
    benchmark:
        "results/benchmarks/prepare_text/{corpus}.tsv"
    threads: 16
    resources:
        **PLAN.rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.prepare_text {params.corpus} --tokenizer {params.tokenizer:q} "
        "--workers {threads} --out {output:q} > {log:q} 2>&1"
