"""The experiment grid, config checks and the JSON schema of the presets."""

import copy
import math
import re

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO
from toponets.experiments import check_config, data_sources, find_run, missing_paths, runs, tau_label

SCHEMA = str(REPO / "schemas" / "config.schema.yaml")
PRESETS = ["config.yaml", "config/smoke.yaml", "config/small.yaml", "config/paper.yaml"]


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


def test_schema_vision_recipe_has_the_trainers_keys():
    """The schema lists every recipe key without defaults (they differ by family; the trainer
    fills them in), for each vision family, and each family's defaults pass it."""
    from toponets.train.vision import DEFAULT_RECIPES

    schema = yaml.safe_load(open(SCHEMA))
    recipe = schema["$defs"]["vision_recipe"]["properties"]
    assert all("default" not in rule and rule["description"] for rule in recipe.values())
    vision_if = schema["$defs"]["experiment"]["allOf"][0]
    assert vision_if["if"]["properties"]["family"]["enum"] == list(DEFAULT_RECIPES)
    for family, defaults in DEFAULT_RECIPES.items():
        assert set(recipe) == set(defaults), family
        config = copy.deepcopy(load("config/smoke.yaml"))
        config["experiments"] = [{"name": family, "family": family, "taus": [0], "recipe": dict(defaults)}]
        validate(config, SCHEMA)


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


def test_replicates_train_their_taus_with_their_seeds():
    """Issue "the small preset": at least two seeds for the baseline and the largest tau, one for the others."""
    config = {"seeds": [0], "experiments": [{"name": "r", "family": "resnet18", "taus": [0, 5, 50],
                                             "replicates": {"taus": [0, 50.0], "seeds": [0, 1]}}]}
    assert [(r.tau_label, r.seed) for r in runs(config)] == [("0", 0), ("0", 1), ("5", 0), ("50", 0), ("50", 1)]
    config["experiments"][0]["replicates"]["taus"] = [10]
    with pytest.raises(ValueError, match=r"experiments\[r\].replicates: tau 10 is not one of its taus"):
        check_config({**config, "data": {}})


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
    assert problems["mirror"].startswith(f"mirror: directory {tmp_path / 'nowhere'} does not exist")
    assert problems["no/such/imagenet"].startswith("data source path no/such/imagenet (images) does not exist")
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "no/such/imagenet").mkdir(parents=True)
    assert missing_paths(config, tmp_path) == {}
    config["data"]["neural"] = {"nsd": {"root": "nsd"}}
    assert "data-use agreement" in missing_paths(config, tmp_path)["nsd"]


def test_unit_voxel_needs_its_brain_data():
    config = load("config/smoke.yaml")
    del config["data"]["neural"]["allen"]
    with pytest.raises(ValueError, match="evaluation.unit_voxel.neural: 'allen' needs data.neural.allen"):
        check_config(config)


def test_schema_language_recipe_defaults_are_the_trainers_defaults():
    from toponets.train.language import DEFAULT_RECIPE

    schema = yaml.safe_load(open(SCHEMA))
    recipe = schema["$defs"]["language_recipe"]["properties"]
    assert {k: v["default"] for k, v in recipe.items()} == DEFAULT_RECIPE


def test_language_experiments_need_a_known_corpus_and_the_tokenizer():
    config = load("config/smoke.yaml")
    nanogpt = next(e for e in config["experiments"] if e["family"] == "nanogpt")
    assert find_run(config, nanogpt["name"], "0", 0).spec["corpus"] == nanogpt["corpus"]
    nanogpt["corpus"] = "novels"
    with pytest.raises(ValueError, match=r"corpus: 'novels' is not a corpus of data.corpora \(\['books', 'python_code', 'shakespeare', 'web', 'wikipedia'\]\)"):
        check_config(config)
    config = load("config/smoke.yaml")
    del config["data"]["tokenizer"]
    with pytest.raises(ValueError, match="data.tokenizer must give the GPT-2 tokenizer"):
        check_config(config)


def test_schema_ties_corpus_to_language_families():
    config = load("config/smoke.yaml")
    lm = next(e for e in config["experiments"] if e["family"] == "gpt_neo")
    del lm["corpus"]
    with pytest.raises(WorkflowError, match="'corpus' is a required property"):
        validate(copy.deepcopy(config), SCHEMA, set_default=True)
    config = load("config/smoke.yaml")
    config["experiments"][0]["corpus"] = "web"  # a ResNet
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA, set_default=True)


def test_data_sources_list_every_file_by_dataset():
    sources = data_sources(load("config.yaml"))
    assert sorted(sources) == ["allen", "blimp", "brown", "corpus-books", "corpus-python_code", "corpus-shakespeare",
                               "corpus-web", "corpus-wikipedia", "images", "konkle_fmri", "stimuli-animacy_size", "stimuli-floc", "stimuli-realworld_size",
                               "tokenizer"]
    assert [s["mirror_path"] for s in sources["stimuli-floc"]] == ["stimuli/floc.tar"]
    assert len(sources["allen"]) == 4
    assert [s["mirror_path"] for s in sources["tokenizer"]] == ["tokenizer/gpt2/vocab.json", "tokenizer/gpt2/merges.txt"]
    assert [s["mirror_path"] for s in sources["corpus-web"]] == ["text/janeausten.txt", "text/abc.zip"]
    assert data_sources(load("config/paper.yaml"))["corpus-wikipedia"] == []  # Hugging Face streams, no files


def test_experiments_can_limit_the_analyses_of_their_checkpoints():
    config = load("config.yaml")
    by_model = {r.model: r for r in runs(config)}
    assert by_model["nanogpt_16k"].evaluate == ("lm_loss", "blimp")
    assert by_model["nanogpt_16k"].evaluated_by("blimp") and not by_model["nanogpt_16k"].evaluated_by("smoothness")
    assert by_model["gpt_neo"].evaluate is None and by_model["gpt_neo"].evaluated_by("integration_windows")
    assert by_model["nanogpt"].evaluated_by("smoothness") and not by_model["nanogpt"].evaluated_by("pruning")
    assert "evaluate" not in by_model["nanogpt_16k"].spec  # not part of training: changing it retrains nothing
    config["experiments"][0]["evaluate"] = ["smoothnes"]
    with pytest.raises(WorkflowError, match="smoothnes"):
        validate(config, SCHEMA, set_default=True)


@pytest.mark.parametrize("key, value, message", [
    ("lora.experiments", ["nanogtp"], r"evaluation.lora.experiments: \['nanogtp'\] is not a language experiment of "
                                      r"`experiments`; valid names: \['gpt_neo', 'nanogpt'\]"),
    ("lora.corpora", ["shakespear"], r"evaluation.lora.corpora: \['shakespear'\] is not a corpus of data.corpora"),
    ("lora.taus", [3], r"evaluation.lora.taus: \['3'\] is not a tau of the experiments in evaluation.lora.experiments"),
    ("selectivity.experiments", ["resnet"], r"evaluation.selectivity.experiments: \['resnet'\] is not a vision "
                                            r"experiment of `experiments`; valid names: \['resnet18', 'resnet50', 'tdann', 'vit_b_32'\]"),
    ("selectivity.experiments", ["gpt_neo"], r"\['gpt_neo'\] is not a vision experiment"),
    ("smoothness.corpus", "book", r"evaluation.smoothness.corpus: \['book'\] is not a corpus of data.corpora"),
    ("lm_loss.corpus", "book", r"evaluation.lm_loss.corpus: \['book'\] is not a corpus of data.corpora"),
    ("lm_loss.corpus", "web", r"evaluation.lm_loss.corpus: 'web' is the training corpus of \['nanogpt'\], so it is not held out"),
    ("dimensionality.vision_pool", ["gpt_neo"], r"evaluation.dimensionality.vision_pool: \['gpt_neo'\] is not a vision experiment"),
])
def test_names_that_refer_to_other_parts_of_the_config_are_checked(key, value, message):
    """A misspelt name no longer drops jobs silently or fails late: the check names the key and the valid names."""
    config = load("config/smoke.yaml")
    section, name = key.split(".")
    config["evaluation"][section][name] = value
    with pytest.raises(ValueError, match=message):
        check_config(config)


def test_lora_experiments_need_corpora():
    config = load("config/smoke.yaml")
    config["evaluation"]["lora"]["corpora"] = []
    with pytest.raises(ValueError, match="evaluation.lora.corpora is empty"):
        check_config(config)


@pytest.mark.parametrize("where", ["tau", "recipe", "evaluation"])
def test_non_finite_numbers_are_refused_everywhere(where):
    config = load("config/smoke.yaml")
    if where == "tau":
        config["experiments"][0]["taus"].append(math.nan)
        key = "experiments[0].taus[2]"
    elif where == "recipe":
        config["experiments"][0]["recipe"]["lr"] = math.inf
        key = "experiments[0].recipe.lr"
    else:
        config["evaluation"]["lora"]["lr"] = math.inf
        key = "evaluation.lora.lr"
    validate(config, SCHEMA, set_default=True)  # the JSON schema lets .nan and .inf through as numbers
    with pytest.raises(ValueError, match=rf"{re.escape(key)}: NaN and infinity \(.nan, .inf\) are not valid"):
        check_config(config)


def test_section_3_2_statistics_vision_pool_is_the_resnets():
    """Section 3.2 / Figure 3A: "Model performance (Imagenet accuracy, x-axis) versus effective
    dimensionality for vision ResNets" (TDANN shown for comparison): the pool is the ResNet experiments with
    the paper's placement, neither the ViT nor the TDANN-placement ResNet-18; a config may name its own."""
    from toponets.experiments import vision_pool

    config = load("config/paper.yaml")
    assert vision_pool(config) == ["resnet18", "resnet50"]
    assert vision_pool(load("config.yaml")) == ["resnet18", "resnet50"]
    config["evaluation"]["dimensionality"]["vision_pool"] = ["resnet18", "resnet18_tdann"]
    assert vision_pool(config) == ["resnet18", "resnet18_tdann"]


def test_tdann_is_always_imported_with_its_positions(tmp_path):
    """TDANN (the paper's comparison model, §3.1/§3.4) is never trained here: its runs come from its authors'
    files, with the directory of its unit positions, whatever published_checkpoints says."""
    config = load("config/smoke.yaml")
    assert not config.get("published_checkpoints")
    tdann = [r for r in runs(config) if r.family == "tdann"]
    assert len(tdann) == 1 and tdann[0].published["path"].endswith(".torch")
    assert tdann[0].positions == "results/tdann_test/size32/positions" and tdann[0].spec["recipe"] == {}
    assert not any(p.startswith("results/") for p in missing_paths(config, tmp_path))  # made by a rule
    config["experiments"] = [e for e in config["experiments"] if e["family"] == "tdann"]
    entry = config["experiments"][0]["checkpoints"][0]
    entry["positions"] = "resources/tdann/positions"
    assert "unit positions resources/tdann/positions" in missing_paths(config, tmp_path)["resources/tdann/positions"]
    del entry["positions"]
    with pytest.raises(ValueError, match=r"experiments\[tdann\]: a tdann model is not trained here"):
        check_config(config)
