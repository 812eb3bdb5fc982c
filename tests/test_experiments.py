"""The experiment grid, config checks and the JSON schema of the presets."""

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO
from toponets.experiments import check_config, find_run, missing_paths, runs, tau_label

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")
PRESETS = ["config.yaml", "config/smoke.yaml", "config/paper.yaml"]


def load(preset):
    return yaml.safe_load((REPO / preset).read_text())


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_are_valid(preset):
    config = load(preset)
    validate(config, SCHEMA, set_default=True)
    check_config(config)
    assert runs(config)


def test_paper_preset_holds_the_papers_grid():
    config = load("config/paper.yaml")
    taus = {exp["name"]: exp["taus"] for exp in config["experiments"]}
    assert taus["resnet18"] == [0, 0.5, 1, 5, 10, 20, 50]
    assert taus["resnet50"] == [0, 1, 30]
    assert taus["vit_b_32"] == [0, 10]
    assert taus["gpt_neo_125m"] == [0, 1, 5, 10, 50]
    assert taus["nanogpt_124m"] == [0, 0.5, 1, 50]
    tdann = next(e for e in config["experiments"] if e["name"] == "resnet18_tdann")
    assert tdann["placement"] == "tdann"


def test_schema_defaults_are_the_trainers_defaults():
    from toponets.train.vision import DEFAULT_RECIPE

    schema = yaml.safe_load(open(SCHEMA))
    recipe = schema["$defs"]["vision_recipe"]["properties"]
    assert {k: v["default"] for k, v in recipe.items()} == DEFAULT_RECIPE


def test_runs_and_labels():
    config = {"seeds": [0, 1], "experiments": [{"name": "r", "family": "resnet18", "taus": [0, 0.5, 10.0]}]}
    grid = runs(config)
    assert [(r.model, r.tau_label, r.seed) for r in grid][:3] == [("r", "0", 0), ("r", "0", 1), ("r", "0.5", 0)]
    assert len(grid) == 6
    run = find_run(config, "r", "10", "1")
    assert run.spec["tau"] == 10.0 and run.spec["seed"] == 1 and run.spec["factor"] == 3.0
    assert run.kind == "vision"
    assert tau_label(50.0) == "50" and tau_label(0.5) == "0.5"
    with pytest.raises(KeyError, match="no run model=r tau=3"):
        find_run(config, "r", "3", "0")


def _bad(mutate):
    config = copy.deepcopy(load("config/smoke.yaml"))
    mutate(config)
    return config


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["experiments"][0].update(family="resnet34"), "resnet34"),
        (lambda c: c["experiments"][0].update(taus=[-1]), "-1"),
        (lambda c: c["experiments"][0].update(factor=0.5), "0.5"),
        (lambda c: c.update(bogus=1), "bogus"),
        (lambda c: c["experiments"][0]["recipe"].update(epoch=3), "epoch"),
        (lambda c: c["data"]["images"]["source"].update(path="/x"), "source"),
    ],
    ids=["unknown-family", "negative-tau", "small-factor", "unknown-key", "unknown-recipe-key", "path-and-download"],
)
def test_schema_rejects_bad_configs_naming_the_problem(mutate, message):
    with pytest.raises(WorkflowError, match=message):
        validate(_bad(mutate), SCHEMA, set_default=True)


def test_duplicate_names_and_taus_are_rejected():
    config = load("config/smoke.yaml")
    config["experiments"].append(dict(config["experiments"][0]))
    with pytest.raises(ValueError, match=r"names must be unique, \['resnet18'\]"):
        check_config(config)
    config = load("config/smoke.yaml")
    config["experiments"][0]["taus"] = [1, 1.0]
    with pytest.raises(ValueError, match=r"experiments\[resnet18\].taus: repeated"):
        check_config(config)


def test_missing_paths_name_the_key(tmp_path):
    config = {"mirror": "nowhere", "data": {"images": {"source": {"path": "no/such/imagenet"}}}, "experiments": []}
    problems = missing_paths(config, tmp_path)
    assert problems["mirror"].startswith("mirror: directory nowhere does not exist")
    assert problems["data.images"].startswith("data.images.source.path: no/such/imagenet does not exist")
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "no/such/imagenet").mkdir(parents=True)
    assert missing_paths(config, tmp_path) == {}
