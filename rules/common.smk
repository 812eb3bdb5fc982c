# Helpers only: config validation, the experiment table, paths, code triggers, wildcard constraints.
import json
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SRC = Path(workflow.basedir) / "src"
LIB = SRC / "toponets"
# Jobs run `python -m toponets.cli...`: make the library importable without installing it,
# here (for the experiment table) and in every job, local or submitted (sbatch exports the environment).
sys.path.insert(0, str(SRC))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))

from toponets.experiments import check_config, find_run, missing_paths, runs  # noqa: E402

validate(config, "../schemas/config.schema.yaml", set_default=True)
try:
    check_config(config)
except ValueError as err:
    raise WorkflowError(f"Invalid config: {err}") from None
# Missing local data stops a real run before any job; a dry run (planning on another machine) only warns.
if _missing := missing_paths(config, Path.cwd()):
    if not workflow.dryrun:
        raise WorkflowError("Invalid config: " + "\n".join(_missing))
    print("TopoNets (dry run) warning: " + "\n".join(_missing), file=sys.stderr)

MIRROR = config["mirror"] or os.environ.get("TOPONETS_MIRROR")
DEVICE = config["device"]

wildcard_constraints:
    model=r"[A-Za-z0-9_\-]+",
    tau=r"[0-9]+(\.[0-9]+)?",
    seed=r"[0-9]+",


def code(*modules):
    """Library modules a rule runs, as inputs: editing one reruns exactly the rules that use it."""
    return [str(LIB / m) for m in modules]


# Families whose training rule exists; the others stay in the grid and are reported as skipped.
TRAINERS = {"resnet18": "train_vision", "resnet50": "train_vision"}
RUNS = runs(config)
TRAINED = [r for r in RUNS if r.family in TRAINERS]
VISION_RUNS = [r for r in TRAINED if r.kind == "vision"]
_skipped = sorted({r.model for r in RUNS if r.family not in TRAINERS})
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
