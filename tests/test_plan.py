"""The workflow's plan (toponets.workflow_plan) on the presets: run lookups, paths, job arguments, targets."""

import json
from types import SimpleNamespace

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from toponets.figure_table import FIGURES
from toponets.settings import READS
from toponets.workflow_plan import (
    Plan, launcher, models_option, repeated, report_category, source_file, table_code, tokenizer_dir,
)

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")


def preset(name: str) -> dict:
    config = yaml.safe_load((REPO / name).read_text())
    validate(config, SCHEMA, set_default=True)
    return config


@pytest.fixture(scope="module")
def smoke() -> Plan:
    return Plan(preset("config/smoke.yaml"))


def wildcards(**values):
    return SimpleNamespace(**values)


class Input(SimpleNamespace):
    def keys(self):
        return vars(self).keys()


def test_runs_are_found_by_their_path_wildcards(smoke):
    run = smoke.runs[0]
    w = wildcards(model=run.model, tau=run.tau_label, seed=str(run.seed))
    assert smoke.run(w) is run
    assert smoke.run_dir(w) == f"results/train/{run.model}/tau{run.tau_label}/seed{run.seed}"
    assert json.loads(smoke.spec_json(w)) == run.spec
    with pytest.raises(KeyError, match="no run model=nope"):
        smoke.run(wildcards(model="nope", tau="0", seed="0"))
    tdann = next(r for r in smoke.runs if r.family == "tdann")
    w = wildcards(model=tdann.model, tau=tdann.tau_label, seed=str(tdann.seed))
    assert smoke.checkpoint(w).startswith("results/published/") and smoke.readout(w)
    assert smoke.accuracy_entry(w) == "toponets.cli.linear_readout"
    assert json.loads(smoke.accuracy_settings(w)) == {"accuracy": {"res": None, "batch_size": 32}}
    assert smoke.accuracy_args(w, Input(stimuli="D")) == "--train-images D/train --images D/val"


def test_stimuli_of_vision_and_language_runs(smoke):
    vision = next(r for r in smoke.runs if r.family == "resnet18")
    language = next(r for r in smoke.runs if r.kind == "language")
    wv = wildcards(model=vision.model, tau=vision.tau_label, seed=str(vision.seed))
    wl = wildcards(model=language.model, tau=language.tau_label, seed=str(language.seed))
    assert smoke.stimuli("smoothness")(wv) == ["results/data/images"]
    assert smoke.stimuli("smoothness")(wl) == ["results/data/text/books"]  # evaluation.smoothness.corpus
    assert smoke.stimulus_args()(wv, Input(stimuli="results/data/images")) == "--images results/data/images/val"
    assert smoke.stimulus_args("--val-text")(wl, Input(stimuli="T")) == "--val-text T"
    assert smoke.pruning_stimuli(wl) == [f"results/data/text/{language.spec['corpus']}"]
    assert smoke.perplexity_text(wl) == "results/data/text/books"  # the common held-out corpus
    assert smoke.perplexity_args(wl, Input(stimuli="T")) == "--text T"
    assert smoke.accuracy_args(wv, Input(stimuli="D")) == "--images D/val"


def test_every_analysis_gets_its_settings(smoke):
    for analysis in READS:
        assert set(json.loads(smoke.settings(analysis))) == set(READS[analysis])


def test_targets_follow_the_config(smoke):
    targets = smoke.all_targets()
    assert targets[-2:] == ["results/tables/paper_vs_run.csv", "results/report/paper_vs_run"]
    assert "results/tables/training.csv" in targets and len(targets) == len(set(targets))
    assert all(f"results/figures/{FIGURES['fig2a'].stem}.{fmt}" in targets for fmt in smoke.config["figures"]["formats"])
    assert "results/tables/paper_vs_run.csv" not in smoke.compared_tables()
    assert set(smoke.compared_tables()) <= set(targets)
    tables = smoke.tables_plan()
    assert tables["prior_models"][0] == "prior-models" and tables["prior_models"][1][0].endswith("paper_numbers.yaml")
    assert set(tables["smoothness_curves"][1]) == set(smoke.evals(["smoothness"], "csv", smoke.runs))
    # an analysis that no experiment evaluates plans no table or figure
    config = preset("config/smoke.yaml")
    for exp in config["experiments"]:
        exp["evaluate"] = ["accuracy", "smoothness", "dimensionality", "lm_loss", "blimp"]
    fewer = Plan(config).all_targets()
    assert "results/tables/pruning_curves.csv" in targets and "results/tables/pruning_curves.csv" not in fewer


def test_selected_runs_of_selectivity_and_lora(smoke):
    assert {r.model for r in smoke.selectivity_runs()} == {"resnet18"}
    assert len(smoke.untrained_runs()) == 1
    assert {r.model for r in smoke.lora_runs()} == {"nanogpt"}
    outputs = smoke.lora_outputs("csv")
    assert len(outputs) == 2 * len(smoke.lora_runs()) and outputs[0].startswith("results/eval/lora-shakespeare/nanogpt/")
    assert smoke.figure_models("selectivity") == ["resnet18"] and smoke.figure_models(None) == []


def test_training_plan(smoke):
    run = next(r for r in smoke.runs if r.kind == "language" and not r.published)
    w = wildcards(model=run.model, tau=run.tau_label, seed=str(run.seed))
    assert smoke.train_inputs(w) == [f"results/data/text/{run.spec['corpus']}"]
    assert smoke.train_command(w) == f"-m toponets.cli.train_language --data results/data/text/{run.spec['corpus']}"
    resources = smoke.train_resources()
    assert "threads" not in resources and all(callable(v) for v in resources.values())


def test_small_helpers(tmp_path):
    assert report_category("fig2a") == "Figure 02" and report_category("table1") == "Tables 1-2"
    assert report_category("unit_voxel") == "Unit-to-voxel"
    assert models_option([]) == "" and models_option(["a", "b"]) == "--models a b"
    assert launcher(1) == "python" and launcher(4) == "torchrun --standalone --nproc-per-node=4"
    assert repeated("--positions", ["a b", "c"]) == "--positions 'a b' --positions c"
    assert source_file("x", {"path": "p"}) == "p"
    assert table_code("prior-models") and table_code("curves") == []
    (tmp_path / "tok").mkdir()
    assert tokenizer_dir(str(tmp_path / "tok")) == str(tmp_path / "tok")
    assert tokenizer_dir([str(tmp_path / "tok" / "vocab.json"), "m"]) == str(tmp_path / "tok")


def test_download_sources_and_published_datasets(smoke):
    dataset, sources = next((d, s) for d, s in smoke.data_sources.items() if s and "path" not in s[0])
    filename = source_file(dataset, sources[0]).rsplit("/", 1)[1]
    assert json.loads(smoke.download_source(wildcards(dataset=dataset, filename=filename))) == sources[0]
    with pytest.raises(ValueError, match="no download source"):
        smoke.download_source(wildcards(dataset=dataset, filename="nothing"))
    trained = next(r for r in smoke.runs if not r.published)
    with pytest.raises(ValueError, match="trained here, not imported"):
        smoke.published_dataset(wildcards(model=trained.model, tau=trained.tau_label, seed=str(trained.seed)))
