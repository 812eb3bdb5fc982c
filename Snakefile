# TopoNets (Deb, Deb & Ratan Murty, ICLR 2025), reproduced end to end.
#   snakemake --cores all                                   # the mini preset (config.yaml), CPU
#   snakemake --cores all --configfile config/smoke.yaml    # the smallest run through every rule
#   snakemake --profile profiles/slurm --configfile config/paper.yaml   # the paper, on a SLURM cluster
from snakemake.utils import min_version

min_version("9.0")


# The default preset, unless presets are given on the command line: a preset is
# complete, so it replaces config.yaml instead of being merged into it.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/figures.smk"
include: "rules/brain.smk"
include: "rules/lora.smk"
include: "rules/report.smk"


# snakemake --report results/report.html: every figure and table, each beside the paper's numbers
report: "report/workflow.rst"


rule all:
    input:
        all_targets(),
    default_target: True
