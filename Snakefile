# TopoNets (Deb, Deb & Ratan Murty, ICLR 2025), reproduced end to end.
#   snakemake --cores all                                   # the mini preset (config.yaml), CPU
#   snakemake --cores all --configfile config/smoke.yaml    # the smallest run through every rule
#   snakemake --profile profiles/slurm --configfile config/paper.yaml   # the paper, on a SLURM cluster
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

# The library is importable without installing it: here, in rules/common.smk, and (see there) in every job.
sys.path.insert(0, f"{workflow.basedir}/src")
from toponets.config_io import yaml_syntax_error  # noqa: E402


# The default preset, unless presets are given on the command line: a preset is
# complete, so it replaces config.yaml instead of being merged into it.
if not workflow.overwrite_configfiles:
    if problem := yaml_syntax_error("config.yaml"):
        raise WorkflowError(f"Invalid config: {problem}")

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
        PLAN.all_targets(),
    default_target: True
