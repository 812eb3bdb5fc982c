# Helpers only: config validation, the experiment table, paths, code triggers, wildcard constraints.
import json
import re
import shlex
import sys
from pathlib import Path

from snakemake import benchmark as snakemake_benchmark
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

SRC = Path(workflow.basedir) / "src"
LIB = SRC / "toponets"
# The library (on sys.path since the Snakefile) is importable in every job, local or submitted, whose
# shell command runs `python -m toponets.cli...`.
shell.prefix(f'export PYTHONPATH="{SRC}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; ')  # braces doubled twice: f-string, then Snakemake

from toponets.code_deps import assigned_literal, closure  # noqa: E402
from toponets.config_io import yaml_values  # noqa: E402
from toponets.data.sources import filename as source_filename, forget_stale_downloads, mirror_dir  # noqa: E402
from toponets.experiments import check_config, checkpoint_dataset, data_sources, find_run, missing_paths, runs, vision_pool  # noqa: E402
from toponets.figure_table import FIGURES as FIGURE_TABLE  # noqa: E402
from toponets.model_check import check_models  # noqa: E402
from toponets.model_spec import FAMILIES, NO_CLASSIFIER  # noqa: E402

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

DEVICE = config["device"]

# Snakemake's `benchmark:` samples each job's processes every 0.5 s for their first 15 s, reading
# /proc/<pid>/smaps_rollup, which is slow for a process that has loaded torch: with jobs of 10-30 s
# that cost a quarter of a core in the mini preset (6% of its time). Every 2 s keeps the peak-memory
# columns meaningful; the run times are exact either way.
snakemake_benchmark.BENCHMARK_INTERVAL_SHORT = 2.0  # bench/benchmark_sampling.py measures it

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
                             f"toponets.models.{FAMILIES[run_of(w).family].module}")


PAPER_NUMBERS = str(LIB / "paper_numbers.yaml")  # the paper's numbers (data the comparison reads, not code)


RUNS = runs(config)
VISION_RUNS = [r for r in RUNS if r.kind == "vision"]
LANGUAGE_RUNS = [r for r in RUNS if r.kind == "language"]
TRAINED_RUNS = [r for r in RUNS if not r.published]
VISION_POOL = vision_pool(config)  # the vision experiments of the section 3.2 statistics and Figure 3
DATA_SOURCES = data_sources(config)
for problem in forget_stale_downloads(DATA_SOURCES, "resources/downloads", dry_run=workflow.dryrun):
    print(f"TopoNets: {problem}", file=sys.stderr)


def run_of(w):
    return find_run(config, w.model, w.tau, w.seed)


def run_dir(w):
    return f"results/train/{w.model}/tau{w.tau}/seed{w.seed}"


def checkpoint_of(w):
    """A run's checkpoint: trained here (results/train/), or imported from the authors' file (results/published/)."""
    stage = "published" if run_of(w).published else "train"
    return f"results/{stage}/{w.model}/tau{w.tau}/seed{w.seed}/model.safetensors"


def published_weights(w):
    """The authors' file of a published run: the user's path, or where `fetch` puts its download."""
    run = run_of(w)
    if not run.published:
        raise WorkflowError(f"{w.model} tau {w.tau} is trained here, not imported (published_checkpoints, experiments[].checkpoints)")
    dataset = checkpoint_dataset(run)
    return sources_input(dataset)(w)


def published_positions(w):
    """TDANN's unit positions directory of a published run ([] for other families)."""
    positions = run_of(w).positions
    return [positions] if positions and not (MISSING.get(positions) and workflow.dryrun) else []


def spec_json(w):
    return json.dumps(run_of(w).spec, sort_keys=True)


def per_run(pattern, selected, analysis=None):
    """`pattern` filled in for each run (fields model, tau, seed); given the `analysis` (an
    `experiments[].evaluate` name) whose output it is, only for the runs whose experiment evaluates it."""
    return [pattern.format(model=r.model, tau=r.tau_label, seed=r.seed) for r in selected
            if analysis is None or r.evaluated_by(analysis)]


def rule_resources(group):
    """Cluster resources of a rule group, from config `resources` (`threads` is a rule's threads, not a resource)."""
    return {k: v for k, v in config["resources"][group].items() if k != "threads"}


def train_resources():
    """Resources of training jobs: resources.train, overridden per experiment by experiments[].resources."""
    overrides = {exp["name"]: exp.get("resources", {}) for exp in config["experiments"]}
    keys = set(config["resources"]["train"]).union(*overrides.values()) - {"threads"}

    def value(key):
        return lambda w: overrides[w.model].get(key, config["resources"]["train"].get(key, 1 if key == "cpus_per_gpu" else 0))

    return {key: value(key) for key in sorted(keys)}


def launcher(w, resources):
    """python, or torchrun with one process per GPU when the job has more than one."""
    if resources.gpu > 1:
        return f"torchrun --standalone --nproc-per-node={resources.gpu}"
    return "python"


def source_file(dataset, source):
    """Where a source is read: the user's path, or the file `fetch` downloads."""
    if "path" in source:
        return source["path"]
    return f"resources/downloads/{dataset}/{source_filename(source)}"


def sources_input(dataset):
    """Input function: the files of `dataset` (see experiments.data_sources).

    A missing user path stops a real run while the DAG is built, before any job; a dry run
    (planning on a machine without the data) only warns.
    """

    def files(wildcards):
        paths = []
        for source in DATA_SOURCES[dataset]:
            problem = MISSING.get(source.get("path"))
            if problem and not workflow.dryrun:
                raise WorkflowError(f"Invalid config: {problem}")
            if problem:
                print(f"TopoNets (dry run) warning: {problem}", file=sys.stderr)
                continue
            paths.append(source_file(dataset, source))
        return paths

    return files


def download_source(w):
    """The download source `fetch` gets for resources/downloads/{dataset}/{filename}."""
    for source in DATA_SOURCES.get(w.dataset, []):
        if "path" not in source and source_filename(source) == w.filename:
            return json.dumps(source)
    raise WorkflowError(f"no download source in the config gives {w.dataset}/{w.filename}")


def uses_ffcv(w):
    return run_of(w).spec["recipe"].get("backend") == "ffcv"


def train_data(w):
    """The data a run trains on: {train, val} ImageFolder splits or .beton files, or {text} token shards."""
    run = run_of(w)
    if run.kind == "language":
        return {"text": f"results/data/text/{run.spec['corpus']}"}
    if uses_ffcv(w):
        return {split: f"results/data/images_ffcv/{split}.beton" for split in ("train", "val")}
    return {split: f"results/data/images/{split}" for split in ("train", "val")}


def train_inputs(w):
    """What `train_data` reads, as job inputs: the .beton files or the prepared directory."""
    data = train_data(w)
    if "text" in data:
        return [data["text"]]
    return list(data.values()) if uses_ffcv(w) else ["results/data/images"]


def train_entry(w):
    """The entry module of a run's training job."""
    return f"toponets.cli.train_{run_of(w).kind}"


def train_command(w):
    """Entry point and data arguments of a run's training job."""
    data = train_data(w)
    if "text" in data:
        return f"-m {train_entry(w)} --data {shlex.quote(data['text'])}"
    return f"-m {train_entry(w)} --train-dir {shlex.quote(data['train'])} --val-dir {shlex.quote(data['val'])}"



def corpus_arguments(w):
    """prepare_text's --corpus KIND:PATH arguments and options for corpus `w.corpus`."""
    corpus = config["data"]["corpora"][w.corpus]
    args = [
        f"--corpus hf:{entry['dataset']}" if entry["kind"] == "hf"
        else f"--corpus {shlex.quote(':'.join((entry['kind'], source_file(f'corpus-{w.corpus}', entry['source']))))}"
        for entry in corpus["sources"]
    ]
    args += [f"--val-fraction {corpus['val_fraction']}", f"--shard-tokens {corpus['shard_tokens']}",
             f"--seed {corpus['seed']}"]
    if corpus["max_documents"]:
        args.append(f"--max-documents {corpus['max_documents']}")
    return " ".join(args)


def tokenizer_dir(input):
    """The directory holding vocab.json and merges.txt: the user's directory, or the downloads'."""
    first = Path(input.tokenizer if isinstance(input.tokenizer, str) else input.tokenizer[0])
    return str(first if first.is_dir() else first.parent)


def images_command(w, input):
    """prepare_images arguments for the configured layout and caps."""
    images = config["data"]["images"]
    flag = "--tiny-imagenet" if images["layout"] == "tiny-imagenet" else "--imagenet-dir"
    caps = [f"--{key.replace('_', '-')} {images[key]}" for key in ("classes", "train_per_class", "val_per_class") if images[key]]
    return " ".join([flag, shlex.quote(str(input.source)), *caps])



def corpus_dir(name):
    return f"results/data/text/{name}"


def stimuli(analysis):
    """Input function: the stimuli of `analysis` for a run, validation images or token shards."""

    def paths(w):
        run = run_of(w)
        if run.kind == "vision":
            return ["results/data/images"]
        return [corpus_dir(config["evaluation"][analysis].get("corpus") or run.spec["corpus"])]

    return paths


def stimuli_args(analysis, count="n_images"):
    """Params function: the CLI's stimulus arguments for a run (images at res, or token windows)."""
    cfg = config["evaluation"][analysis]

    def args(w, input):
        if run_of(w).kind == "vision":
            limit = f"--{count.replace('_', '-')} {cfg[count]}" if cfg.get(count) else ""
            return f"--images {shlex.quote(f'{input.stimuli}/val')} {validation_flags(cfg)} {limit}"
        return f"--text {shlex.quote(str(input.stimuli))} --length {cfg['length']} --n-samples {cfg['n_samples']}"

    return args


def accuracy_entry(w):
    """The accuracy job's entry module: a classifier's own top-1, or a linear readout's (experiments.NO_CLASSIFIER)."""
    return "toponets.cli.linear_readout" if run_of(w).family in NO_CLASSIFIER else "toponets.cli.accuracy"


def accuracy_args(w, input):
    """The accuracy job's stimuli: the val images, and for a linear readout also the train images it learns on."""
    if run_of(w).family not in NO_CLASSIFIER:
        return stimuli_args("accuracy", "max_images")(w, input)
    res = config["evaluation"]["accuracy"]["res"] or run_of(w).spec["options"].get("image_size", 224)
    return (f"--train-images {shlex.quote(f'{input.stimuli}/train')} --images {shlex.quote(f'{input.stimuli}/val')} "
            f"--res {res}")


def validation_flags(cfg):
    """--res, and --flip-tta for accuracy-type analyses; a null is left to the checkpoint's recipe."""
    flags = [] if cfg["res"] is None else [f"--res {cfg['res']}"]
    if cfg.get("flip_tta") is not None:
        flags.append("--flip-tta" if cfg["flip_tta"] else "--no-flip-tta")
    return " ".join(flags)


def pruning_levels(evaluation):
    """The pruning CLI's levels: the configured fractions, or (null) the downsampling factors as reductions."""
    fractions = evaluation["pruning"]["fractions"]
    if fractions is None:
        return f"--factors {','.join(str(n) for n in evaluation['downsampling']['factors'])}"
    return f"--fractions {','.join(str(f) for f in fractions)}"


def validation_text(w):
    """A language run's validation windows: its training corpus (the val split is read)."""
    return corpus_dir(run_of(w).spec["corpus"])


def lm_val_args(w, input):
    cfg = config["evaluation"]["lm_loss"]
    return f"--val-text {shlex.quote(str(input.stimuli))} --length {cfg['length']} --n-samples {cfg['n_samples']}"


COMMON_CORPUS = config["evaluation"]["lm_loss"]["corpus"]  # held out from every language model (checked)


def perplexity_text(w):
    """The windows of a language run's perplexity (lm_loss): the common held-out corpus, else its own val split."""
    return corpus_dir(COMMON_CORPUS) if COMMON_CORPUS else validation_text(w)


def perplexity_args(w, input):
    """lm_loss's windows: the common corpus's train split (no model trains on it), else the run's val split."""
    if not COMMON_CORPUS:
        return lm_val_args(w, input)
    cfg = config["evaluation"]["lm_loss"]
    return f"--text {shlex.quote(str(input.stimuli))} --length {cfg['length']} --n-samples {cfg['n_samples']}"


def neural_input(w):
    """The brain data of the unit-to-voxel analysis: the Allen files, or the NSD root (read in place)."""
    if config["evaluation"]["unit_voxel"]["neural"] == "allen":
        return sources_input("allen")(w)
    root = config["data"]["neural"]["nsd"]["root"]
    if root in MISSING and not workflow.dryrun:
        raise WorkflowError(f"Invalid config: {MISSING[root]}")
    return [] if root in MISSING else [root]


def neural_args(w, input):
    """--neural specs: allen:DIR, or one nsd:ROOT,subject=S,roi=R per configured subject (averaged)."""
    if config["evaluation"]["unit_voxel"]["neural"] == "allen":
        return shlex.quote(f"allen:{Path(input.neural[0]).parent}")
    nsd = config["data"]["neural"]["nsd"]
    return " ".join(shlex.quote(f"nsd:{nsd['root']},subject={s},roi={nsd['roi']}") for s in nsd["subjects"])


def selectivity_runs():
    """The vision runs whose selectivity maps are computed (evaluation.selectivity.experiments, null = all)."""
    chosen = config["evaluation"]["selectivity"]["experiments"]
    return [r for r in VISION_RUNS if chosen is None or r.model in chosen]


def untrained_runs():
    """One run per selected experiment and seed (its first tau), whose architecture is drawn untrained."""
    first = {}
    for r in selectivity_runs():
        first.setdefault((r.model, r.seed), r)
    return list(first.values())


def brainscore_inputs(w):
    """The local benchmarks' data (Allen V1, Konkle-lab fMRI and stimuli); the public ones are downloaded by Brain-Score."""
    if "local" not in config["evaluation"]["brainscore"]["benchmarks"].split(","):
        return {}
    return {
        "allen": sources_input("allen")(w),
        "konkle_fmri": sources_input("konkle_fmri")(w),
        "konkle_stimuli": "results/data/stimuli/animacy_size",
    }


def brainscore_args(w, input):
    cfg = config["evaluation"]["brainscore"]
    args = [f"--benchmarks {cfg['benchmarks']}", f"--pls-splits {cfg['pls_splits']}"]
    if "allen" in input.keys():
        args += [f"--allen {shlex.quote(str(Path(input.allen[0]).parent))}", f"--konkle-fmri {shlex.quote(str(input.konkle_fmri))}",
                 f"--konkle-stimuli {shlex.quote(str(input.konkle_stimuli))}", f"--konkle-image-type {cfg['konkle_image_type']}"]
    if cfg["image_size"]:
        args.append(f"--image-size {cfg['image_size']}")
    if cfg["region_layers"]:
        args.append(f"--region-layers {shlex.quote(json.dumps(cfg['region_layers']))}")
    return " ".join(args)


LORA = config["evaluation"]["lora"]


def lora_runs():
    """The language runs that are fine-tuned: evaluation.lora.experiments, at evaluation.lora.taus (null = all)."""
    taus = None if LORA["taus"] is None else {float(t) for t in LORA["taus"]}
    return [r for r in LANGUAGE_RUNS if r.model in LORA["experiments"] and (taus is None or r.tau in taus)]


def lora_outputs(ext):
    """One output per fine-tuning corpus and run: results/eval/lora-<corpus>/<model>/tau<tau>/seed<seed>.<ext>."""
    return [path for corpus in LORA["corpora"]
            for path in per_run(f"results/eval/lora-{corpus}/{{model}}/tau{{tau}}/seed{{seed}}.{ext}", lora_runs(), "lora")]


def figure_outputs(name):
    return [f"results/figures/{name}.{fmt}" for fmt in config["figures"]["formats"]]


REPORT = Path(workflow.basedir) / "report"


def report_category(item):
    """The report category of a paper item: "Figure 02" (zero-padded, so categories sort in paper order),
    "Tables 1-2" (Brain-Score) or "Unit-to-voxel"."""
    number = re.match(r"(?:fig|figure_)(\d+)", item)
    if number:
        return f"Figure {int(number[1]):02d}"
    return "Tables 1-2" if item.startswith("table") else "Unit-to-voxel"


def reported(path, caption, item):
    """`path` marked for the report with caption report/captions/<caption>.rst in `item`'s category."""
    return report(path, caption=str(REPORT / "captions" / f"{caption}.rst"), category=report_category(item))


def reported_figure(name):
    """A figure's outputs; the first format (PNG in the presets) goes into the report under its paper figure."""
    first, *rest = figure_outputs(name)
    return [reported(first, name, name), *rest]


def table_path(name):
    return f"results/tables/{name}.csv"


REPORTED_TABLES = {"unit_voxel": "unit_voxel", "brainscore_regions": "table"}  # table -> its report item


def table_output(name):
    """A tidy table's path, marked for the report (caption report/captions/<name>.rst) where REPORTED_TABLES says."""
    return reported(table_path(name), name, REPORTED_TABLES[name]) if name in REPORTED_TABLES else table_path(name)


PRIOR_MODELS = assigned_literal(LIB / "cli" / "tables.py", "PRIOR_MODELS")  # imported by name for prior-models only


def table_code(kind):
    """The modules that `toponets.cli.tables` imports by name for a table kind (besides its own imports)."""
    return [PRIOR_MODELS] if kind == "prior-models" else []


def evals(folders, ext, selected, analysis=None):
    """The evaluation outputs results/eval/<folder>/<model>/tau<tau>/seed<seed>.<ext> of the selected runs
    that evaluate the folder's analysis: `analysis` (an `experiments[].evaluate` name), or each folder's name."""
    return [path for folder in folders
            for path in per_run(f"results/eval/{folder}/{{model}}/tau{{tau}}/seed{{seed}}.{ext}", selected,
                                analysis or folder)]


def selectivity_evals(kind):
    """The selectivity CSVs of one kind (maps, ssim): of the mapped runs, and of their architectures untrained."""
    return [*evals([f"selectivity_{kind}"], "csv", selectivity_runs(), "selectivity"),
            *evals([f"selectivity_untrained_{kind}"], "csv", untrained_runs(), "selectivity")]


FIGURE_CLI = assigned_literal(LIB / "cli" / "figure.py", "FIGURES")  # figure -> (its module, function)
WITH_PUBLISHED = assigned_literal(LIB / "cli" / "figure.py", "WITH_PUBLISHED")  # figures drawing the prior models


def figure_models(selection):
    """The experiments a figure draws (figure_table.Figure.models), or [] for all of its tables'."""
    if selection is None:
        return []
    if selection == "vision_pool":
        return VISION_POOL
    if selection == "selectivity":
        return [r.model for r in selectivity_runs()[:1]]  # the paper shows ResNet-18
    return sorted({r.model for r in LANGUAGE_RUNS if r.family == selection})


def models_option(models):
    """The CLIs' --models option: keep only these experiments (none: all)."""
    return f"--models {' '.join(models)}" if models else ""


def tables(*names):
    """The paths of tidy tables (TABLES names, rules/figures.smk)."""
    return [table_path(name) for name in names]


def figure_targets(*names):
    """The outputs of figures (figure_table names)."""
    return [path for name in names for path in figure_outputs(FIGURE_TABLE[name].stem)]


def evaluated(analysis, selected):
    """Whether any of the `selected` runs is evaluated by `analysis` (experiments[].evaluate): an analysis
    that no run evaluates plans no table or figure."""
    return any(r.evaluated_by(analysis) for r in selected)


def all_targets():
    """Every table and figure the implemented stages produce for this config."""
    targets = tables("training") if TRAINED_RUNS else []
    if VISION_RUNS:
        targets += tables("vision_metrics", "smoothness_layers", "smoothness_curves", "dimensionality_correlations")
        targets += figure_targets("fig2a", "fig3", "fig7")
    if evaluated("pruning", RUNS):
        targets += [*tables("pruning_curves"), *figure_targets("fig4a")]
    if config["evaluation"]["unit_voxel"]["neural"] and evaluated("unit_voxel", VISION_RUNS):
        targets += tables("unit_voxel")
    if config["evaluation"]["brainscore"]["benchmarks"] and evaluated("brainscore", VISION_RUNS):
        targets += tables("brainscore", "brainscore_regions")
    if "stimuli" in config["data"] and evaluated("selectivity", selectivity_runs()):
        targets += [*tables("selectivity_ssim"), *figure_targets("fig5a")]
    if LANGUAGE_RUNS:
        targets += tables("language_metrics", "blimp_paradigms", "language_dimensionality_correlations",
                          "smoothness_curves")
        targets += figure_targets("fig2b", "fig9", "fig7")
        downsampled = {r.family for r in LANGUAGE_RUNS if r.evaluated_by("downsampling")}
        targets += tables("downsampling_curves") if downsampled else []
        targets += figure_targets("fig4b") if "gpt_neo" in downsampled else []
        targets += figure_targets("fig10") if "nanogpt" in downsampled else []
        # BLiMP against training tokens: trained runs only (a published checkpoint has no training log)
        trained = {r.family for r in TRAINED_RUNS}
        targets += figure_targets("fig6") if "nanogpt" in trained else []
        if evaluated("lora", lora_runs()):
            targets += [*tables("lora_deltas"), *figure_targets("fig11", "fig12")]
        if "brown" in config["data"] and evaluated("integration_windows", LANGUAGE_RUNS):
            targets += tables("integration_windows", "integration_window_units", "integration_window_curves")
            targets += figure_targets("fig5b", "fig8")
    targets += ["results/tables/paper_vs_run.csv", "results/report/paper_vs_run"]
    return list(dict.fromkeys(targets))


def compared_tables():
    """The tidy tables this config produces, which the paper comparison reads (all but its own)."""
    return [t for t in all_targets() if t.startswith("results/tables/") and t != "results/tables/paper_vs_run.csv"]
