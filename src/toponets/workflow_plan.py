"""What the workflow plans from a config: the runs' paths and inputs, the jobs' arguments, the targets.

Pure functions of the (validated) config dict and of wildcards (any object with the attributes a rule's
wildcards have: model, tau, seed, ...) and job inputs; rules/common.smk binds one `Plan` and adapts
what only Snakemake knows (dry runs, its errors, the report). Paths are relative to the working
directory: results/train/<model>/tau<tau>/seed<seed>/ (checkpoints; results/published/ for the authors'),
results/eval/<analysis>/<model>/tau<tau>/seed<seed>.<ext>, results/tables/<name>.csv,
results/figures/<stem>.<format>.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from .code_deps import assigned_literal
from .data.sources import filename as source_filename, mirror_dir
from .experiments import Run, checkpoint_dataset, data_sources, runs, vision_pool
from .figure_table import FIGURES as FIGURE_TABLE
from .model_spec import NO_CLASSIFIER
from .settings import job_settings

LIB = Path(__file__).resolve().parent
PAPER_NUMBERS = str(LIB / "paper_numbers.yaml")  # the paper's numbers (data the comparison reads, not code)
FIGURE_CLI = assigned_literal(LIB / "cli" / "figure.py", "FIGURES")  # figure -> (its module, function)
WITH_PUBLISHED = assigned_literal(LIB / "cli" / "figure.py", "WITH_PUBLISHED")  # figures drawing the prior models
PRIOR_MODELS = assigned_literal(LIB / "cli" / "tables.py", "PRIOR_MODELS")  # imported by name for prior-models only
REPORTED_TABLES = {"unit_voxel": "unit_voxel", "brainscore_regions": "table"}  # table -> its report item
EVAL = "results/eval/{folder}/{{model}}/tau{{tau}}/seed{{seed}}.{ext}"


def corpus_dir(name: str) -> str:
    return f"results/data/text/{name}"


def table_path(name: str) -> str:
    return f"results/tables/{name}.csv"


def table_code(kind: str) -> list[str]:
    """The modules that `toponets.cli.tables` imports by name for a table kind (besides its own imports)."""
    return [PRIOR_MODELS] if kind.split()[0] == "prior-models" else []


def report_category(item: str) -> str:
    """The report category of a paper item: "Figure 02" (zero-padded, so categories sort in paper order),
    "Tables 1-2" (Brain-Score) or "Unit-to-voxel"."""
    number = re.match(r"(?:fig|figure_)(\d+)", item)
    if number:
        return f"Figure {int(number[1]):02d}"
    return "Tables 1-2" if item.startswith("table") else "Unit-to-voxel"


def models_option(models: list[str]) -> str:
    """The CLIs' --models option: keep only these experiments (none: all)."""
    return f"--models {' '.join(models)}" if models else ""


def launcher(gpus: int) -> str:
    """python, or torchrun with one process per GPU when the job has more than one."""
    return f"torchrun --standalone --nproc-per-node={gpus}" if gpus > 1 else "python"


def source_file(dataset: str, source: dict[str, Any]) -> str:
    """Where a source is read: the user's path, or the file `fetch` downloads."""
    if "path" in source:
        return source["path"]
    return f"resources/downloads/{dataset}/{source_filename(source)}"


def repeated(flag: str, values: list[str]) -> str:
    """`flag` before each of `values`, quoted for the shell: --positions A --positions B."""
    return " ".join(f"{flag} {shlex.quote(str(v))}" for v in values)


def tokenizer_dir(tokenizer: str | list[str]) -> str:
    """The directory holding vocab.json and merges.txt (a job's tokenizer input): the user's, or the downloads'."""
    first = Path(tokenizer if isinstance(tokenizer, str) else tokenizer[0])
    return str(first if first.is_dir() else first.parent)


class Plan:
    """The jobs a config asks for: its runs, their paths and inputs, the jobs' arguments and the targets."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.evaluation = config["evaluation"]
        self.runs = runs(config)
        self._by_name = {(r.model, r.tau_label, r.seed): r for r in self.runs}
        self.vision_runs = [r for r in self.runs if r.kind == "vision"]
        self.language_runs = [r for r in self.runs if r.kind == "language"]
        self.trained_runs = [r for r in self.runs if not r.published]
        self.vision_pool = vision_pool(config)  # the vision experiments of the section 3.2 statistics and Figure 3
        self.data_sources = data_sources(config)
        self.common_corpus = self.evaluation["lm_loss"]["corpus"]  # held out from every language model (checked)

    def mirror_option(self) -> str:
        """fetch's --mirror: config `mirror`, resolved; else the job reads $TOPONETS_MIRROR itself."""
        return f"--mirror {shlex.quote(str(mirror_dir(self.config['mirror'])))}" if self.config["mirror"] else ""

    # -- runs and their paths

    def run(self, w) -> Run:
        """The run that wildcards model, tau (its label) and seed name."""
        try:
            return self._by_name[(w.model, w.tau, int(w.seed))]
        except KeyError:
            raise KeyError(f"no run model={w.model} tau={w.tau} seed={w.seed} in the config's experiments") from None

    def run_dir(self, w) -> str:
        return f"results/train/{w.model}/tau{w.tau}/seed{w.seed}"

    def checkpoint(self, w) -> str:
        """A run's checkpoint: trained here (results/train/), or imported from the authors' file (results/published/)."""
        stage = "published" if self.run(w).published else "train"
        return f"results/{stage}/{w.model}/tau{w.tau}/seed{w.seed}/model.safetensors"

    def spec_json(self, w) -> str:
        return json.dumps(self.run(w).spec, sort_keys=True)

    def per_run(self, pattern: str, selected: list[Run], analysis: str | None = None) -> list[str]:
        """`pattern` filled in for each run (fields model, tau, seed); given the `analysis` (an
        `experiments[].evaluate` name) whose output it is, only for the runs whose experiment evaluates it."""
        return [pattern.format(model=r.model, tau=r.tau_label, seed=r.seed) for r in selected
                if analysis is None or r.evaluated_by(analysis)]

    # -- resources

    def rule_resources(self, group: str) -> dict[str, Any]:
        """Cluster resources of a rule group, from config `resources` (`threads` is a rule's threads, not a resource)."""
        return {k: v for k, v in self.config["resources"][group].items() if k != "threads"}

    def train_resource(self, model: str, key: str) -> Any:
        """A training job's resource: experiments[].resources, else resources.train (cpus_per_gpu 1, others 0)."""
        override = next(e.get("resources", {}) for e in self.config["experiments"] if e["name"] == model)
        return override.get(key, self.config["resources"]["train"].get(key, 1 if key == "cpus_per_gpu" else 0))

    def train_resources(self) -> dict[str, Any]:
        """The resources of training jobs, each a function of the wildcards (`train_resource` of the run's experiment)."""
        keys = set(self.config["resources"]["train"]).union(*(e.get("resources", {}) for e in self.config["experiments"]))
        return {key: (lambda w, key=key: self.train_resource(w.model, key)) for key in sorted(keys - {"threads"})}

    # -- data

    def source_files(self, dataset: str, missing: dict[str, str]) -> list[tuple[str, str | None]]:
        """The files of `dataset` (experiments.data_sources), each with the problem of a missing user path."""
        return [(source_file(dataset, s), missing.get(s.get("path"))) for s in self.data_sources[dataset]]

    def published_dataset(self, w) -> str:
        """The dataset of the authors' file of a published run."""
        run = self.run(w)
        if not run.published:
            raise ValueError(f"{w.model} tau {w.tau} is trained here, not imported "
                             "(published_checkpoints, experiments[].checkpoints)")
        return checkpoint_dataset(run)

    def download_source(self, w) -> str:
        """The download source `fetch` gets for resources/downloads/{dataset}/{filename}, as JSON."""
        for source in self.data_sources.get(w.dataset, []):
            if "path" not in source and source_filename(source) == w.filename:
                return json.dumps(source)
        raise ValueError(f"no download source in the config gives {w.dataset}/{w.filename}")

    def corpus_arguments(self, w) -> str:
        """prepare_text's --corpus KIND:PATH arguments and options for corpus `w.corpus`."""
        corpus = self.config["data"]["corpora"][w.corpus]
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

    def images_command(self, source: str) -> str:
        """prepare_images arguments for the configured layout and caps."""
        images = self.config["data"]["images"]
        flag = "--tiny-imagenet" if images["layout"] == "tiny-imagenet" else "--imagenet-dir"
        caps = [f"--{key.replace('_', '-')} {images[key]}" for key in ("classes", "train_per_class", "val_per_class")
                if images[key]]
        return " ".join([flag, shlex.quote(str(source)), *caps])

    # -- training

    def uses_ffcv(self, w) -> bool:
        return self.run(w).spec["recipe"].get("backend") == "ffcv"

    def train_data(self, w) -> dict[str, str]:
        """The data a run trains on: {train, val} ImageFolder splits or .beton files, or {text} token shards."""
        run = self.run(w)
        if run.kind == "language":
            return {"text": corpus_dir(run.spec["corpus"])}
        if self.uses_ffcv(w):
            return {split: f"results/data/images_ffcv/{split}.beton" for split in ("train", "val")}
        return {split: f"results/data/images/{split}" for split in ("train", "val")}

    def train_inputs(self, w) -> list[str]:
        """What `train_data` reads, as job inputs: the .beton files or the prepared directory."""
        data = self.train_data(w)
        if "text" in data:
            return [data["text"]]
        return list(data.values()) if self.uses_ffcv(w) else ["results/data/images"]

    def train_entry(self, w) -> str:
        return f"toponets.cli.train_{self.run(w).kind}"

    def train_command(self, w) -> str:
        """Entry point and data arguments of a run's training job."""
        data = self.train_data(w)
        if "text" in data:
            return f"-m {self.train_entry(w)} --data {shlex.quote(data['text'])}"
        return (f"-m {self.train_entry(w)} --train-dir {shlex.quote(data['train'])} "
                f"--val-dir {shlex.quote(data['val'])}")

    # -- evaluation jobs

    def settings(self, analysis: str) -> str:
        """The --settings JSON of an `analysis` job (toponets.settings.job_settings)."""
        return job_settings(self.evaluation, analysis)

    def stimuli(self, analysis: str):
        """Input function: the stimuli of `analysis` for a run, validation images or token shards."""

        def paths(w) -> list[str]:
            run = self.run(w)
            if run.kind == "vision":
                return ["results/data/images"]
            return [corpus_dir(self.evaluation[analysis].get("corpus") or run.spec["corpus"])]

        return paths

    def stimulus_args(self, text_flag: str = "--text"):
        """Params function: a job's stimulus argument, the val images or the token shards (as `text_flag`)."""

        def args(w, input) -> str:
            if self.run(w).kind == "vision":
                return f"--images {shlex.quote(f'{input.stimuli}/val')}"
            return f"{text_flag} {shlex.quote(str(input.stimuli))}"

        return args

    def validation_text(self, w) -> str:
        """A language run's validation windows: its training corpus (the val split is read)."""
        return corpus_dir(self.run(w).spec["corpus"])

    def pruning_stimuli(self, w) -> list[str]:
        return self.stimuli("pruning")(w) if self.run(w).kind == "vision" else [self.validation_text(w)]

    def perplexity_text(self, w) -> str:
        """The windows of a language run's perplexity (lm_loss): the common held-out corpus, else its own val split."""
        return corpus_dir(self.common_corpus) if self.common_corpus else self.validation_text(w)

    def perplexity_args(self, w, input) -> str:
        """lm_loss's windows: the common corpus's train split (no model trains on it), else the run's val split."""
        return f"{'--text' if self.common_corpus else '--val-text'} {shlex.quote(str(input.stimuli))}"

    def readout(self, w) -> bool:
        """Whether the run's accuracy is a linear readout's (a model without a classifier, model_spec.NO_CLASSIFIER)."""
        return self.run(w).family in NO_CLASSIFIER

    def accuracy_entry(self, w) -> str:
        return "toponets.cli.linear_readout" if self.readout(w) else "toponets.cli.accuracy"

    def accuracy_settings(self, w) -> str:
        return self.settings("linear_readout" if self.readout(w) else "accuracy")

    def accuracy_args(self, w, input) -> str:
        """The accuracy job's stimuli: the val images, and for a linear readout also the train images it learns on."""
        train = f"--train-images {shlex.quote(f'{input.stimuli}/train')} " if self.readout(w) else ""
        return f"{train}--images {shlex.quote(f'{input.stimuli}/val')}"

    def uses_nsd(self) -> bool:
        return self.evaluation["unit_voxel"]["neural"] == "nsd"

    def neural_args(self, neural: list[str]) -> str:
        """unit_voxel's --neural specs of its inputs: allen:DIR, or one nsd:ROOT,subject=S,roi=R per subject."""
        if not self.uses_nsd():
            return shlex.quote(f"allen:{Path(neural[0]).parent}")
        nsd = self.config["data"]["neural"]["nsd"]
        return " ".join(shlex.quote(f"nsd:{nsd['root']},subject={s},roi={nsd['roi']}") for s in nsd["subjects"])

    def brainscore_local(self) -> bool:
        """Whether Brain-Score runs the local benchmarks, which read the Allen and Konkle-lab data."""
        return "local" in (self.evaluation["brainscore"]["benchmarks"] or "").split(",")

    def brainscore_args(self, input) -> str:
        """brainscore's data arguments: the local benchmarks' files, where the job has them."""
        if "allen" not in input.keys():
            return ""
        return (f"--allen {shlex.quote(str(Path(input.allen[0]).parent))} "
                f"--konkle-fmri {shlex.quote(str(input.konkle_fmri))} "
                f"--konkle-stimuli {shlex.quote(str(input.konkle_stimuli))}")

    # -- which runs an analysis takes

    def selectivity_runs(self) -> list[Run]:
        """The vision runs whose selectivity maps are computed (evaluation.selectivity.experiments, null = all)."""
        chosen = self.evaluation["selectivity"]["experiments"]
        return [r for r in self.vision_runs if chosen is None or r.model in chosen]

    def untrained_runs(self) -> list[Run]:
        """One run per selected experiment and seed (its first tau), whose architecture is drawn untrained."""
        first = {}
        for r in self.selectivity_runs():
            first.setdefault((r.model, r.seed), r)
        return list(first.values())

    def lora_runs(self) -> list[Run]:
        """The language runs that are fine-tuned: evaluation.lora.experiments, at evaluation.lora.taus (null = all)."""
        lora = self.evaluation["lora"]
        taus = None if lora["taus"] is None else {float(t) for t in lora["taus"]}
        return [r for r in self.language_runs if r.model in lora["experiments"] and (taus is None or r.tau in taus)]

    # -- outputs and targets

    def evals(self, folders: list[str], ext: str, selected: list[Run], analysis: str | None = None) -> list[str]:
        """The evaluation outputs results/eval/<folder>/<model>/tau<tau>/seed<seed>.<ext> of the selected runs
        that evaluate the folder's analysis: `analysis` (an `experiments[].evaluate` name), or each folder's name."""
        return [path for folder in folders
                for path in self.per_run(EVAL.format(folder=folder, ext=ext), selected, analysis or folder)]

    def lora_outputs(self, ext: str) -> list[str]:
        """One output per fine-tuning corpus and run: results/eval/lora-<corpus>/<model>/tau<tau>/seed<seed>.<ext>."""
        return [path for corpus in self.evaluation["lora"]["corpora"]
                for path in self.evals([f"lora-{corpus}"], ext, self.lora_runs(), "lora")]

    def selectivity_evals(self, kind: str) -> list[str]:
        """The selectivity CSVs of one kind (maps, ssim): of the mapped runs, and of their architectures untrained."""
        return [*self.evals([f"selectivity_{kind}"], "csv", self.selectivity_runs(), "selectivity"),
                *self.evals([f"selectivity_untrained_{kind}"], "csv", self.untrained_runs(), "selectivity")]

    def tables_plan(self) -> dict[str, tuple[str, list[str]]]:
        """name -> (the `toponets.cli.tables` kind and options, its inputs): job table_<name>, results/tables/<name>.csv."""
        v, lang, every = self.vision_runs, self.language_runs, self.runs
        return {
            "training": ("training", self.per_run("results/train/{model}/tau{tau}/seed{seed}/metrics.jsonl",
                                                  self.trained_runs)),
            "vision_metrics": ("metrics", self.evals(["accuracy", "smoothness", "dimensionality"], "json", v)),
            "smoothness_layers": ("per-layer --metric smoothness", self.evals(["smoothness"], "json", every)),
            "smoothness_curves": ("curves", self.evals(["smoothness"], "csv", every)),
            "pruning_curves": ("curves", self.evals(["pruning"], "csv", every)),
            "language_metrics": ("metrics", self.evals(["lm_loss", "blimp", "smoothness", "dimensionality"], "json", lang)),
            "downsampling_curves": ("curves", self.evals(["downsampling"], "csv", lang)),
            "blimp_paradigms": ("curves", self.evals(["blimp"], "csv", lang)),
            "unit_voxel": ("metrics", self.evals(["unit_voxel"], "json", v)),
            "brainscore": ("metrics", self.evals(["brainscore"], "json", v)),
            "integration_windows": ("metrics", self.evals(["integration_windows"], "json", lang)),
            "integration_window_units": ("curves", self.evals(["integration_windows"], "csv", lang)),
            "integration_window_curves": ("curves", self.evals(["integration_curves"], "csv", lang, "integration_windows")),
            "selectivity_maps": ("curves", self.selectivity_evals("maps")),
            "selectivity_ssim": ("curves", self.selectivity_evals("ssim")),
            "lora_curves": ("curves", self.lora_outputs("csv")),
            "prior_models": ("prior-models", [PAPER_NUMBERS]),
            # from other tables
            "dimensionality_correlations": (f"correlations --performance top1 {models_option(self.vision_pool)}",
                                            self.tables("vision_metrics")),
            "language_dimensionality_correlations": ("correlations --performance perplexity",
                                                     self.tables("language_metrics")),
            "lora_deltas": ("lora-deltas", self.tables("lora_curves")),
            "brainscore_regions": ("regions", self.tables("brainscore")),
        }

    def tables(self, *names: str) -> list[str]:
        """The paths of tidy tables (`tables_plan` names)."""
        return [table_path(name) for name in names]

    def figure_outputs(self, stem: str) -> list[str]:
        return [f"results/figures/{stem}.{fmt}" for fmt in self.config["figures"]["formats"]]

    def figure_targets(self, *names: str) -> list[str]:
        """The outputs of figures (figure_table names)."""
        return [path for name in names for path in self.figure_outputs(FIGURE_TABLE[name].stem)]

    def figure_models(self, selection: str | None) -> list[str]:
        """The experiments a figure draws (figure_table.Figure.models), or [] for all of its tables'."""
        if selection is None:
            return []
        if selection == "vision_pool":
            return self.vision_pool
        if selection == "selectivity":
            return [r.model for r in self.selectivity_runs()[:1]]  # the paper shows ResNet-18
        return sorted({r.model for r in self.language_runs if r.family == selection})

    def evaluated(self, analysis: str, selected: list[Run]) -> bool:
        """Whether any of the `selected` runs is evaluated by `analysis` (experiments[].evaluate): an analysis
        that no run evaluates plans no table or figure."""
        return any(r.evaluated_by(analysis) for r in selected)

    def all_targets(self) -> list[str]:
        """Every table and figure the implemented stages produce for this config."""
        tables, figures, evaluated = self.tables, self.figure_targets, self.evaluated
        targets = tables("training") if self.trained_runs else []
        if self.vision_runs:
            targets += tables("vision_metrics", "smoothness_layers", "smoothness_curves", "dimensionality_correlations")
            targets += figures("fig2a", "fig3", "fig7")
        if evaluated("pruning", self.runs):
            targets += [*tables("pruning_curves"), *figures("fig4a")]
        if self.evaluation["unit_voxel"]["neural"] and evaluated("unit_voxel", self.vision_runs):
            targets += tables("unit_voxel")
        if self.evaluation["brainscore"]["benchmarks"] and evaluated("brainscore", self.vision_runs):
            targets += tables("brainscore", "brainscore_regions")
        if "stimuli" in self.config["data"] and evaluated("selectivity", self.selectivity_runs()):
            targets += [*tables("selectivity_ssim"), *figures("fig5a")]
        if self.language_runs:
            targets += tables("language_metrics", "blimp_paradigms", "language_dimensionality_correlations",
                              "smoothness_curves")
            targets += figures("fig2b", "fig9", "fig7")
            downsampled = {r.family for r in self.language_runs if r.evaluated_by("downsampling")}
            targets += tables("downsampling_curves") if downsampled else []
            targets += figures("fig4b") if "gpt_neo" in downsampled else []
            targets += figures("fig10") if "nanogpt" in downsampled else []
            # BLiMP against training tokens: trained runs only (a published checkpoint has no training log)
            targets += figures("fig6") if "nanogpt" in {r.family for r in self.trained_runs} else []
            if evaluated("lora", self.lora_runs()):
                targets += [*tables("lora_deltas"), *figures("fig11", "fig12")]
            if "brown" in self.config["data"] and evaluated("integration_windows", self.language_runs):
                targets += tables("integration_windows", "integration_window_units", "integration_window_curves")
                targets += figures("fig5b", "fig8")
        targets += ["results/tables/paper_vs_run.csv", "results/report/paper_vs_run"]
        return list(dict.fromkeys(targets))

    def compared_tables(self) -> list[str]:
        """The tidy tables this config produces, which the paper comparison reads (all but its own)."""
        return [t for t in self.all_targets()
                if t.startswith("results/tables/") and t != "results/tables/paper_vs_run.csv"]

    def families_json(self) -> str:
        """experiment -> family of every run, as JSON (the paper comparison's --families)."""
        return json.dumps({r.model: r.family for r in self.runs}, sort_keys=True)
