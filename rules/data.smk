# Dataset preparation: fetch sources (user path, mirror or download), build ImageFolder datasets.
from toponets.data.sources import filename as source_filename


def images_input():
    """The Tiny-ImageNet archive (fetched, or the user's file) or the user's ImageNet directory."""
    source = config["data"]["images"]["source"]
    return source["path"] if "path" in source else f"resources/downloads/images/{source_filename(source)}"


def images_command(w, input):
    layout = config["data"]["images"]["layout"]
    flag = "--tiny-imagenet" if layout == "tiny-imagenet" else "--imagenet-dir"
    caps = [f"--{key.replace('_', '-')} {config['data']['images'][key]}"
            for key in ("classes", "train_per_class", "val_per_class") if config["data"]["images"][key]]
    return " ".join([flag, str(input.source), *caps])


rule fetch:
    output:
        "resources/downloads/{dataset}/{filename}",
    params:
        source=lambda w: json.dumps(config["data"][w.dataset]["source"]),
        mirror=f"--mirror {MIRROR}" if MIRROR else "",
    log:
        "results/logs/fetch/{dataset}/{filename}.log",
    benchmark:
        "results/benchmarks/fetch/{dataset}/{filename}.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.fetch --source {params.source:q} --dest-dir resources/downloads/{wildcards.dataset} "
        "{params.mirror} > {log} 2>&1"


rule prepare_images:
    input:
        source=images_input(),
        code=code("cli/prepare_images.py", "data/prepare_images.py", "data/archives.py"),
    output:
        directory("results/data/images"),
    params:
        how=images_command,
    log:
        "results/logs/prepare_images.log",
    benchmark:
        "results/benchmarks/prepare_images.tsv"
    resources:
        **rule_resources("light"),
    conda:
        "../envs/torch.yaml"
    shell:
        "python -m toponets.cli.prepare_images {params.how} --out {output} > {log} 2>&1"
