# What only Snakemake can do: validate the config, bind the plan (toponets.workflow_plan, which the tests
# cover) to this workflow, derive code inputs, adapt wildcards, dry runs and errors, mark report items.
import sys
from pathlib import Path

from snakemake import benchmark as snakemake_benchmark
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

SRC = Path(workflow.basedir) / "src"
# The library (on sys.path since the Snakefile) is importable in every job's `python -m toponets.cli...`.
shell.prefix(f'export PYTHONPATH="{SRC}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; ')  # braces doubled twice: f-string, then Snakemake

from toponets.code_deps import closure  # noqa: E402
from toponets.config_io import yaml_values  # noqa: E402
from toponets.data.sources import forget_stale_downloads  # noqa: E402
from toponets.experiments import check_config, missing_paths  # noqa: E402
from toponets.model_check import check_models  # noqa: E402
from toponets.model_spec import FAMILIES  # noqa: E402
from toponets.workflow_plan import (  # noqa: E402
    FIGURE_CLI, FIGURE_TABLE, PAPER_NUMBERS, REPORTED_TABLES, WITH_PUBLISHED, Plan, corpus_dir, launcher,
    models_option, repeated, report_category, table_code, tokenizer_dir,
)

# `--config key=value` values as YAML reads them (true, null, [0, 1]), as they would be in a config file
update_config(config, yaml_values(workflow.config_settings.overwrite_config))
validate(config, "../schemas/config.schema.yaml", set_default=True)
try:
    check_config(config)
    for warning in check_models(config["experiments"], cache=Path(".snakemake/toponets/checked_models.json")):
        print(f"TopoNets: warning: {warning}", file=sys.stderr)
except ValueError as err:
    raise WorkflowError(f"Invalid config: {err}") from None
MISSING = missing_paths(config, Path.cwd())
if "mirror" in MISSING:
    raise WorkflowError(f"Invalid config: {MISSING['mirror']}")

PLAN = Plan(config)
DEVICE = config["device"]
for problem in forget_stale_downloads(PLAN.data_sources, "resources/downloads", dry_run=workflow.dryrun):
    print(f"TopoNets: {problem}", file=sys.stderr)

# `benchmark:` samples a job's processes every 0.5 s for 15 s, reading /proc/<pid>/smaps_rollup, slow once
# torch is loaded: a quarter of a core in the mini preset. Every 2 s keeps the peak-memory columns meaningful
# (the run times are exact either way); bench/benchmark_sampling.py measures it.
snakemake_benchmark.BENCHMARK_INTERVAL_SHORT = 2.0

# brainscore-vision has pins of its own (ENVIRONMENT.md): its jobs run in .venv-brainscore (bash setup.sh
# --brainscore), or in envs/brainscore.yaml under --software-deployment-method conda.
_BRAINSCORE_VENV = Path(workflow.basedir) / ".venv-brainscore" / "bin" / "python"
BRAINSCORE_PYTHON = str(_BRAINSCORE_VENV) if _BRAINSCORE_VENV.exists() else "python"

wildcard_constraints:
    model=r"[A-Za-z0-9_\-]+",
    tau=r"[0-9]+(\.[0-9]+)?",
    seed=r"[0-9]+",


def code_of(*entries):
    """A job's code inputs: the library files that its entry modules (`python -m` names) import, read from
    their sources (toponets.code_deps). Editing one reruns exactly the jobs that run it; Snakemake compares
    the checksums of inputs newer than the outputs, so a checkout that changes no content reruns nothing."""
    return [str(path) for path in closure(entries, SRC)]


def run_code(*entries):
    """Input function of a job of one run: code_of its entry modules (names, or functions of the wildcards
    giving one) and of the run's model builder module, which models.build imports by a computed name."""
    return lambda w: code_of(*(e(w) if callable(e) else e for e in entries),
                             f"toponets.models.{FAMILIES[PLAN.run(w).family].module}")


def sources_input(dataset):
    """Input function: the files of `dataset`. A missing user path stops a real run while the DAG is built,
    before any job; a dry run (planning on a machine without the data) only warns."""

    def files(wildcards):
        paths = []
        for path, problem in PLAN.source_files(dataset, MISSING):
            if problem and not workflow.dryrun:
                raise WorkflowError(f"Invalid config: {problem}")
            if problem:
                print(f"TopoNets (dry run) warning: {problem}", file=sys.stderr)
                continue
            paths.append(path)
        return paths

    return files


def planned(function):
    """`function` of the plan, its ValueError (a wildcard the config has no source for) as Snakemake's error."""

    def call(*args):
        try:
            return function(*args)
        except ValueError as err:
            raise WorkflowError(str(err)) from None

    return call


def published_weights(w):
    """The authors' file of a published run: the user's path, or where `fetch` puts its download."""
    return sources_input(planned(PLAN.published_dataset)(w))(w)


def published_positions(w):
    """TDANN's unit positions directory of a published run ([] for other families)."""
    positions = PLAN.run(w).positions
    return [positions] if positions and not (MISSING.get(positions) and workflow.dryrun) else []


def neural_input(w):
    """The brain data of the unit-to-voxel analysis: the Allen files, or the NSD root (read in place)."""
    if not PLAN.uses_nsd():
        return sources_input("allen")(w)
    root = config["data"]["neural"]["nsd"]["root"]
    if root in MISSING and not workflow.dryrun:
        raise WorkflowError(f"Invalid config: {MISSING[root]}")
    return [] if root in MISSING else [root]


def brainscore_inputs(w):
    """The local benchmarks' data (Allen V1, Konkle-lab fMRI and stimuli); the public ones are downloaded by Brain-Score."""
    if not PLAN.brainscore_local():
        return {}
    return {"allen": sources_input("allen")(w), "konkle_fmri": sources_input("konkle_fmri")(w),
            "konkle_stimuli": "results/data/stimuli/animacy_size"}


REPORT = Path(workflow.basedir) / "report"


def reported(path, caption, item):
    """`path` marked for the report with caption report/captions/<caption>.rst in `item`'s category."""
    return report(path, caption=str(REPORT / "captions" / f"{caption}.rst"), category=report_category(item))


def reported_figure(stem):
    """A figure's outputs; the first format (PNG in the presets) goes into the report under its paper figure."""
    first, *rest = PLAN.figure_outputs(stem)
    return [reported(first, stem, stem), *rest]


def table_output(name):
    """A tidy table's path, marked for the report (caption report/captions/<name>.rst) where REPORTED_TABLES says."""
    path = f"results/tables/{name}.csv"
    return reported(path, name, REPORTED_TABLES[name]) if name in REPORTED_TABLES else path
