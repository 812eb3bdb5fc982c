"""The evaluation settings types (toponets.settings): their defaults are the schema's, their constructors
reject what the config cannot hold, and the workflow gives each job the sections it reads."""

import dataclasses
import json

import pytest
import yaml

from conftest import REPO
from toponets import settings
from toponets.analysis.activations import REDUCTIONS
from toponets.analysis.integration_windows import TAPS
from toponets.analysis.pruning import SCOPES
from toponets.analysis.unit_voxel import CEILINGS, MATCHINGS

SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
EVALUATION = SCHEMA["properties"]["evaluation"]["properties"]


def test_every_section_of_the_schema_has_a_settings_type():
    assert set(EVALUATION) == set(settings.SECTIONS)


@pytest.mark.parametrize("section", sorted(EVALUATION))
def test_schema_defaults_equal_the_types_defaults(section):
    schema = {key: spec.get("default") for key, spec in EVALUATION[section]["properties"].items()}
    assert settings.SECTIONS[section].defaults() == schema


@pytest.mark.parametrize("section", sorted(EVALUATION))
def test_schema_enums_are_the_types_choices(section):
    cls = settings.SECTIONS[section]
    enums = {key: spec["enum"] for key, spec in EVALUATION[section]["properties"].items() if "enum" in spec}
    choices = {f.name: list(f.metadata["choices"]) for f in dataclasses.fields(cls) if "choices" in f.metadata}
    assert {k: sorted(map(str, v)) for k, v in choices.items()} == {k: sorted(map(str, v)) for k, v in enums.items()}


def test_choices_are_the_analyses_own():
    assert set(settings.Smoothness.__dataclass_fields__["reduce"].metadata["choices"]) == set(REDUCTIONS)
    assert set(settings.Pruning.__dataclass_fields__["scope"].metadata["choices"]) == set(SCOPES)
    assert set(settings.IntegrationWindows.__dataclass_fields__["tap"].metadata["choices"]) == set(TAPS)
    assert set(settings.UnitVoxel.__dataclass_fields__["matching"].metadata["choices"]) == set(MATCHINGS)
    assert set(settings.UnitVoxel.__dataclass_fields__["ceiling"].metadata["choices"]) == {"auto", *CEILINGS}


def test_constructors_name_the_unknown_key_and_its_section():
    with pytest.raises(ValueError, match=r"evaluation\.smoothness: unknown key\(s\) \['bin'\]"):
        settings.Smoothness.from_config({"bin": 10})
    with pytest.raises(ValueError, match=r"unknown evaluation section\(s\) \['smoothnes'\]"):
        settings.from_config({"smoothnes": {}})
    with pytest.raises(ValueError, match=r"\['smoothness'\] for pruning"):
        settings.from_config({"smoothness": {}}, "pruning")
    with pytest.raises(ValueError, match=r"evaluation\.pruning\.scope: 'all' is not one of \['layer', 'global'\]"):
        settings.Pruning.from_config({"scope": "all"})
    with pytest.raises(ValueError, match="region -> layer name"):
        settings.Brainscore.from_config({"region_layers": ["IT"]})
    with pytest.raises(ValueError, match="JSON object of evaluation sections"):
        settings.from_config({"smoothness": 3})


def test_left_out_keys_and_sections_take_their_defaults_and_json_numbers_their_types():
    given = settings.from_config({"pruning": {"fractions": [0, 1]}, "downsampling": {"factors": [1, 5]}}, "pruning")
    assert given["pruning"] == settings.Pruning(fractions=(0.0, 1.0)) and given["pruning"].batch_size == 256
    assert given["downsampling"].factors == (1.0, 5.0) and all(type(f) is float for f in given["downsampling"].factors)
    assert given["lm_loss"] == settings.LmLoss()  # left out: its defaults
    assert settings.Lora.from_config({"alpha": 16, "ranks": [2]}) == settings.Lora(alpha=16.0, ranks=(2,))
    assert type(settings.Lora.from_config({"alpha": 16}).alpha) is float
    with pytest.raises(KeyError, match="no evaluation section 'nope'"):
        given["nope"]


def test_read_takes_json_text_or_a_file(tmp_path):
    text = json.dumps({"smoothness": {"n_images": 7}})
    assert settings.read(text, "smoothness")["smoothness"].n_images == 7
    path = tmp_path / "s.json"
    path.write_text(text)
    assert settings.read(str(path), "smoothness")["smoothness"].n_images == 7
    with pytest.raises(ValueError, match="neither JSON text nor an existing .json file"):
        settings.read(str(tmp_path / "missing.json"), "smoothness")
    with pytest.raises(ValueError, match="not valid JSON"):
        settings.read("{nope", "smoothness")


def test_job_settings_hold_what_the_job_reads_and_round_trip():
    evaluation = {"pruning": {"batch_size": 32, "fractions": None}, "downsampling": {"factors": [1, 5]},
                  "lm_loss": {"corpus": "web", "n_samples": 8, "length": 32, "batch_size": 4},
                  "smoothness": {"corpus": "books", "n_images": 32}}
    pruning = json.loads(settings.job_settings(evaluation, "pruning"))
    assert pruning == {"pruning": {"res": None, "flip_tta": None, "batch_size": 32, "max_images": None,
                                   "fractions": None, "scope": "layer"},
                       "downsampling": {"factors": [1.0, 5.0]}, "lm_loss": {"n_samples": 8, "length": 32}}
    smoothness = json.loads(settings.job_settings(evaluation, "smoothness"))["smoothness"]
    assert "corpus" not in smoothness and smoothness["n_images"] == 32  # a planning key: the job gets the corpus
    for analysis in settings.READS:  # what the workflow passes, each CLI reads back
        text = settings.job_settings(evaluation, analysis)
        assert set(settings.read(text, analysis)) == set(settings.READS[analysis])
