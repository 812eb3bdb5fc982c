"""The experiment grid: which (model, tau, seed) runs a config asks for, and their specs.

A config lists experiments (a named model family with builder options, the
topographic placement, the blur factor, a list of taus and a training recipe)
and seeds. Each (experiment, tau, seed) is one training run; its "spec" is
the resolved dict the training entry point receives and the checkpoint
sidecar records. tau 0 is the baseline, named like every other run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data.sources import missing_mirror
from .model_spec import DEFAULT_FACTOR, DEFAULT_PLACEMENT, IMPORTED_ONLY, KIND


def tau_label(tau: float) -> str:
    """How a tau appears in paths: 0, 0.5, 1, 50 (no trailing zeros)."""
    return f"{float(tau):g}"


@dataclass(frozen=True)
class Run:
    """One training run of the grid."""

    model: str
    tau: float
    seed: int
    spec: dict[str, Any]
    evaluate: tuple[str, ...] | None = None  # the analyses run on its checkpoint; None = all
    published: dict[str, Any] | None = None  # the source of the authors' checkpoint it imports instead of training
    positions: str | None = None  # TDANN: the directory of its unit positions, imported with the checkpoint

    def evaluated_by(self, analysis: str) -> bool:
        return self.evaluate is None or analysis in self.evaluate

    @property
    def tau_label(self) -> str:
        return tau_label(self.tau)

    @property
    def family(self) -> str:
        return self.spec["family"]

    @property
    def kind(self) -> str:
        return KIND[self.family]


def spec_for(experiment: dict[str, Any], tau: float, seed: int) -> dict[str, Any]:
    """The resolved spec of one run of `experiment` (language runs also name their corpus)."""
    spec = {
        "name": experiment["name"],
        "family": experiment["family"],
        "options": dict(experiment.get("options", {})),
        "placement": experiment.get("placement", DEFAULT_PLACEMENT),
        "factor": experiment.get("factor", DEFAULT_FACTOR),
        "tau": float(tau),
        "seed": int(seed),
        "recipe": {} if experiment["family"] in IMPORTED_ONLY else dict(experiment.get("recipe", {})),  # never trained
    }
    if "corpus" in experiment:
        spec["corpus"] = experiment["corpus"]
    return spec


def published_source(config: dict[str, Any], experiment: dict[str, Any], tau: float) -> dict[str, Any] | None:
    """The source of the authors' checkpoint that stands in for training (`experiment`, `tau`), or None.

    Only when `published_checkpoints` is on (or the family is never trained here, `IMPORTED_ONLY`) and the
    experiment lists a checkpoint for that tau.
    """
    entry = published_entry(config, experiment, tau)
    return entry["source"] if entry else None


def published_entry(config: dict[str, Any], experiment: dict[str, Any], tau: float) -> dict[str, Any] | None:
    """The `checkpoints` entry (source, and TDANN's positions) imported for (`experiment`, `tau`), or None."""
    if not config.get("published_checkpoints") and experiment["family"] not in IMPORTED_ONLY:
        return None
    for entry in experiment.get("checkpoints", []):
        if tau_label(entry["tau"]) == tau_label(tau):
            return entry
    return None


def runs(config: dict[str, Any]) -> list[Run]:
    """Every (experiment, tau, seed) of the config, in config order.

    A published checkpoint is one run, under the first seed of `seeds`, since the authors released one per tau.
    An experiment's `replicates` ({taus, seeds}) trains those taus with those seeds instead of `seeds`.
    """
    grid = []
    for exp in config["experiments"]:
        evaluate = tuple(exp["evaluate"]) if exp.get("evaluate") is not None else None
        replicates = exp.get("replicates") or {"taus": [], "seeds": []}
        replicated = {tau_label(t) for t in replicates["taus"]}
        for tau in exp["taus"]:
            entry = published_entry(config, exp, tau)
            published, positions = (entry["source"], entry.get("positions")) if entry else (None, None)
            seeds = replicates["seeds"] if tau_label(tau) in replicated else config["seeds"]
            seeds = seeds[:1] if published else seeds
            grid += [Run(exp["name"], float(tau), int(seed), spec_for(exp, tau, seed), evaluate, published, positions)
                     for seed in seeds]
    return grid


POOLED_FAMILIES = ("resnet18", "resnet50")  # section 3.2 / Figure 3: "vision ResNets"


def vision_pool(config: dict[str, Any]) -> list[str]:
    """The vision experiments of the section 3.2 statistics and Figure 3: evaluation.dimensionality.vision_pool,
    else the ResNet experiments with the paper's placement (the paper: "vision ResNets", TDANN only shown;
    so neither the ViT nor the TDANN-placement ResNet)."""
    chosen = config.get("evaluation", {}).get("dimensionality", {}).get("vision_pool")
    if chosen is not None:
        return list(chosen)
    return [exp["name"] for exp in config["experiments"]
            if exp["family"] in POOLED_FAMILIES and exp.get("placement", DEFAULT_PLACEMENT) == "paper"]


def find_run(config: dict[str, Any], model: str, tau: str, seed: str | int) -> Run:
    """The run named by path wildcards (tau as its label)."""
    for run in runs(config):
        if run.model == model and run.tau_label == tau and run.seed == int(seed):
            return run
    raise KeyError(f"no run model={model} tau={tau} seed={seed} in the config's experiments")


def non_finite_keys(value: Any, key: str = "") -> list[str]:
    """The dotted keys of `value` (a loaded config) that hold NaN or an infinity (YAML's .nan, .inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [key or "(top level)"]
    if isinstance(value, dict):
        return [k for name, item in value.items() for k in non_finite_keys(item, f"{key}.{name}" if key else str(name))]
    if isinstance(value, list):
        return [k for i, item in enumerate(value) for k in non_finite_keys(item, f"{key}[{i}]")]
    return []


def _unknown_names(key: str, given: list[str] | None, valid: list[str], what: str) -> None:
    """Raise ValueError if `given` (a config list naming other parts of the config) names something not in `valid`."""
    unknown = [name for name in given or [] if name not in valid]
    if unknown:
        raise ValueError(f"{key}: {unknown} {'is' if len(unknown) == 1 else 'are'} not {what}; "
                         f"valid names: {sorted(valid) or 'none defined'}")


def _check_references(config: dict[str, Any]) -> None:
    """Every name that refers to another part of the config names something that exists."""
    experiments = config["experiments"]
    evaluation = config.get("evaluation", {})
    corpora = sorted(config.get("data", {}).get("corpora", {}))
    vision = [e["name"] for e in experiments if KIND[e["family"]] == "vision"]
    language = [e["name"] for e in experiments if KIND[e["family"]] == "language"]
    selectivity = evaluation.get("selectivity", {})
    _unknown_names("evaluation.selectivity.experiments", selectivity.get("experiments"), vision,
                   "a vision experiment of `experiments`")
    lora = evaluation.get("lora", {})
    _unknown_names("evaluation.lora.experiments", lora.get("experiments"), language,
                   "a language experiment of `experiments`")
    _unknown_names("evaluation.lora.corpora", lora.get("corpora"), corpora, "a corpus of data.corpora")
    if lora.get("experiments") and not lora.get("corpora"):
        raise ValueError("evaluation.lora.corpora is empty, so evaluation.lora.experiments are fine-tuned on nothing; "
                         "name corpora of data.corpora, or set evaluation.lora.experiments to []")
    if lora.get("taus") is not None:
        taus = {tau_label(t) for e in experiments if e["name"] in lora.get("experiments", []) for t in e["taus"]}
        _unknown_names("evaluation.lora.taus", [tau_label(t) for t in lora["taus"]], sorted(taus),
                       "a tau of the experiments in evaluation.lora.experiments")
    for analysis in ("smoothness", "dimensionality"):
        corpus = evaluation.get(analysis, {}).get("corpus")
        _unknown_names(f"evaluation.{analysis}.corpus", None if corpus is None else [corpus], corpora,
                       "a corpus of data.corpora")
    common = evaluation.get("lm_loss", {}).get("corpus")
    _unknown_names("evaluation.lm_loss.corpus", None if common is None else [common], corpora, "a corpus of data.corpora")
    trained_on = sorted(e["name"] for e in experiments if KIND[e["family"]] == "language" and e.get("corpus") == common)
    if common is not None and trained_on:
        raise ValueError(f"evaluation.lm_loss.corpus: {common!r} is the training corpus of {trained_on}, so it is not "
                         "held out; name a corpus no language experiment trains on, or null for each model's own val split")
    _unknown_names("evaluation.dimensionality.vision_pool", evaluation.get("dimensionality", {}).get("vision_pool"),
                   vision, "a vision experiment of `experiments`")
    neural = evaluation.get("unit_voxel", {}).get("neural")
    if neural and neural not in config.get("data", {}).get("neural", {}):
        raise ValueError(f"evaluation.unit_voxel.neural: {neural!r} needs data.neural.{neural}; add it or set neural to null")


def _check_imported(exp: dict[str, Any]) -> None:
    """A family never trained here (TDANN) needs a checkpoint, with its unit positions, for every tau."""
    listed = {tau_label(entry["tau"]): entry for entry in exp.get("checkpoints", [])}
    for tau in exp["taus"]:
        entry = listed.get(tau_label(tau))
        if entry is None or not entry.get("positions"):
            raise ValueError(
                f"experiments[{exp['name']}]: a {exp['family']} model is not trained here, so tau {tau_label(tau)} "
                "needs a `checkpoints` entry with its source and `positions` (the directory of its unit positions)"
            )


def check_config(config: dict[str, Any]) -> None:
    """Checks the JSON schema cannot express; raises ValueError naming the key and the fix."""
    bad = non_finite_keys(config)
    if bad:
        raise ValueError(f"{', '.join(bad)}: NaN and infinity (.nan, .inf) are not valid config values; give a finite number")
    names = [exp["name"] for exp in config["experiments"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"experiments: names must be unique, {duplicates} appear more than once")
    corpora = config.get("data", {}).get("corpora", {})
    for exp in config["experiments"]:
        labels = [tau_label(t) for t in exp["taus"]]
        if len(set(labels)) != len(labels):
            raise ValueError(f"experiments[{exp['name']}].taus: repeated value in {exp['taus']}")
        stray = sorted(set(tau_label(t) for t in (exp.get("replicates") or {}).get("taus", [])) - set(labels))
        if stray:
            raise ValueError(f"experiments[{exp['name']}].replicates: tau {stray[0]} is not one of its taus {exp['taus']}")
        published = [tau_label(entry["tau"]) for entry in exp.get("checkpoints", [])]
        strays = sorted(set(published) - set(labels)) + sorted({t for t in published if published.count(t) > 1})
        if strays:
            raise ValueError(
                f"experiments[{exp['name']}].checkpoints: tau {strays[0]} is not one of its taus {exp['taus']} "
                "or is listed twice; give one checkpoint per tau of the experiment"
            )
        if exp["family"] in IMPORTED_ONLY:
            _check_imported(exp)
        if KIND[exp["family"]] != "language":
            continue
        if exp.get("corpus") not in corpora:
            raise ValueError(
                f"experiments[{exp['name']}].corpus: {exp.get('corpus')!r} is not a corpus of data.corpora "
                f"({sorted(corpora) or 'none defined'}); add it there or name an existing one"
            )
        for key, what in (("tokenizer", "the GPT-2 tokenizer"), ("blimp", "BLiMP.zip, which its evaluation reads")):
            if key not in config.get("data", {}):
                raise ValueError(f"experiments[{exp['name']}] is a language model: data.{key} must give {what}")
    _check_references(config)


def data_sources(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every file source of the config, by dataset: "images", "tokenizer", "blimp", "corpus-<name>",
    "stimuli-<name>", "brown", "allen", "konkle_fmri" and "checkpoint-<experiment>-tau<tau>" (the authors'
    checkpoints, when `published_checkpoints` is on).

    A dataset's downloads land in resources/downloads/<dataset>/; hf corpus sources
    have no file (they stream), so a corpus of those alone has an empty list.
    """
    data = config.get("data", {})
    sources = {}
    if "images" in data:
        sources["images"] = [data["images"]["source"]]
    if "tokenizer" in data:
        sources["tokenizer"] = list(data["tokenizer"]["sources"])
    if "blimp" in data:
        sources["blimp"] = [data["blimp"]["source"]]
    for name, corpus in data.get("corpora", {}).items():
        sources[f"corpus-{name}"] = [entry["source"] for entry in corpus["sources"] if "source" in entry]
    for name, stimuli in data.get("stimuli", {}).items():
        sources[f"stimuli-{name}"] = [stimuli["source"]]
    if "brown" in data:
        sources["brown"] = [data["brown"]["source"]]
    neural = data.get("neural", {})
    if "allen" in neural:
        sources["allen"] = list(neural["allen"]["sources"])
    if "konkle_fmri" in neural:
        sources["konkle_fmri"] = [neural["konkle_fmri"]["source"]]
    for run in runs(config):
        if run.published:
            sources[checkpoint_dataset(run)] = [run.published]
    return sources


def checkpoint_dataset(run: Run) -> str:
    """The dataset name of a published checkpoint's source (its downloads land in resources/downloads/<name>/)."""
    return f"checkpoint-{run.model}-tau{run.tau_label}"


def missing_paths(config: dict[str, Any], base: str | Path = ".") -> dict[str, str]:
    """{config key: message} for each configured local path that does not exist (relative to `base`)."""
    base = Path(base)
    problems = {}
    mirror = missing_mirror(base / config["mirror"] if config.get("mirror") else None)
    if mirror:
        problems["mirror"] = mirror
    nsd = config.get("data", {}).get("neural", {}).get("nsd")
    if nsd and not (base / nsd["root"]).is_dir():
        problems[nsd["root"]] = (
            f"data.neural.nsd.root: directory {nsd['root']} does not exist; NSD needs a data-use agreement "
            "(naturalscenesdataset.org), so point this at your local copy or remove data.neural.nsd"
        )
    positions = [{"path": run.positions} for run in runs(config) if run.positions]
    for dataset, sources in [*data_sources(config).items(), ("positions", positions)]:
        for source in sources:
            path = source.get("path")
            if not path or (base / path).exists() or Path(path).parts[:1] == ("results",):
                continue  # a path under results/ is made by a rule (the smoke preset's TDANN test files)
            if dataset == "positions":
                problems[path] = (f"unit positions {path} do not exist; download TDANN's positions directory there "
                                  "(docs/other-models.md)")
            elif dataset.startswith("checkpoint-"):
                problems[path] = (
                    f"published checkpoint {path} ({dataset}) does not exist; download the authors' file there "
                    "(README, 'Published checkpoints'), or set published_checkpoints: false to train this run"
                )
            else:
                problems[path] = (
                    f"data source path {path} ({dataset}) does not exist; give the path of the data on this machine, "
                    "or replace `path` by a download source (sha256 or md5, with url or mirror_path)"
                )
    return problems
