# Helpers only: config validation, the experiment table, paths, code triggers, wildcard constraints.
import json
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SRC = Path(workflow.basedir) / "src"
LIB = SRC / "toponets"
# The library is importable without installing it: here (for the experiment table) and in every
# job, local or submitted, whose shell command runs `python -m toponets.cli...`.
sys.path.insert(0, str(SRC))
shell.prefix(f'export PYTHONPATH="{SRC}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; ')  # braces doubled twice: f-string, then Snakemake

from toponets.data.sources import filename as source_filename  # noqa: E402
from toponets.experiments import check_config, find_run, missing_paths, runs  # noqa: E402

validate(config, "../schemas/config.schema.yaml", set_default=True)
try:
    check_config(config)
except ValueError as err:
    raise WorkflowError(f"Invalid config: {err}") from None
MISSING = missing_paths(config, Path.cwd())
if "mirror" in MISSING:
    raise WorkflowError(f"Invalid config: {MISSING['mirror']}")

DEVICE = config["device"]

wildcard_constraints:
    model=r"[A-Za-z0-9_\-]+",
    tau=r"[0-9]+(\.[0-9]+)?",
    seed=r"[0-9]+",


def code(*modules):
    """Library modules a job runs, listed as inputs so that editing one reruns exactly the jobs using it."""
    return [str(LIB / m) for m in modules]


# Families whose training rule exists; the others stay in the grid and are reported as skipped.
TRAINABLE = {"resnet18", "resnet50"}  # trained by train_vision
RUNS = runs(config)
VISION_RUNS = [r for r in RUNS if r.family in TRAINABLE and r.kind == "vision"]
_skipped = sorted({r.model for r in RUNS if r.family not in TRAINABLE})
if _skipped:
    print(f"TopoNets: no training rule yet for experiments {_skipped}; they are left out.", file=sys.stderr)


def run_dir(w):
    return f"results/train/{w.model}/tau{w.tau}/seed{w.seed}"


def spec_json(w):
    return json.dumps(find_run(config, w.model, w.tau, w.seed).spec, sort_keys=True)


def per_run(pattern, selected):
    """`pattern` filled in for each run (fields model, tau, seed)."""
    return [pattern.format(model=r.model, tau=r.tau_label, seed=r.seed) for r in selected]


def rule_resources(group):
    """Cluster resources of a rule group, from config `resources`."""
    return dict(config["resources"][group])


def source_input(key):
    """Input function for dataset `key`: the user's path, or the file `fetch` downloads.

    A missing user path stops a real run while the DAG is built, before any job; a dry run
    (planning on a machine without the data) only warns.
    """

    def source_path(wildcards):
        source = config["data"][key]["source"]
        if "path" not in source:
            return f"resources/downloads/{key}/{source_filename(source)}"
        if f"data.{key}" in MISSING:
            if not workflow.dryrun:
                raise WorkflowError(f"Invalid config: {MISSING[f'data.{key}']}")
            print(f"TopoNets (dry run) warning: {MISSING[f'data.{key}']}", file=sys.stderr)
            return []
        return source["path"]

    return source_path


def uses_ffcv(w):
    return find_run(config, w.model, w.tau, w.seed).spec["recipe"].get("backend") == "ffcv"


def train_data(w):
    """{train, val} data of a run: the ImageFolder splits, or .beton files for the ffcv backend."""
    if uses_ffcv(w):
        return {split: f"results/data/images_ffcv/{split}.beton" for split in ("train", "val")}
    return {split: f"results/data/images/{split}" for split in ("train", "val")}


def train_inputs(w):
    """What `train_data` reads, as job inputs: the .beton files, or the ImageFolder directory."""
    return list(train_data(w).values()) if uses_ffcv(w) else ["results/data/images"]


def images_command(w, input):
    """prepare_images arguments for the configured layout and caps."""
    images = config["data"]["images"]
    flag = "--tiny-imagenet" if images["layout"] == "tiny-imagenet" else "--imagenet-dir"
    caps = [f"--{key.replace('_', '-')} {images[key]}" for key in ("classes", "train_per_class", "val_per_class") if images[key]]
    return " ".join([flag, str(input.source or config["data"]["images"]["source"]["path"]), *caps])


def figure_outputs(name):
    return [f"results/figures/{name}.{fmt}" for fmt in config["figures"]["formats"]]


def all_targets():
    """Every table and figure the implemented stages produce for this config."""
    if not VISION_RUNS:
        return []
    return [
        "results/tables/vision_metrics.csv",
        "results/tables/smoothness_layers.csv",
        "results/tables/smoothness_curves.csv",
        "results/tables/pruning_curves.csv",
        "results/tables/dimensionality_correlations.csv",
        *figure_outputs("fig2a_topography_vs_accuracy"),
        *figure_outputs("fig3_dimensionality"),
        *figure_outputs("fig4a_pruning"),
        *figure_outputs("fig7_correlation_vs_distance"),
    ]
