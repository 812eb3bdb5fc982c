"""The model families and spec defaults of toponets.model_spec against the places that must repeat them:
the config schema (which cannot import Python) and the trainers' default recipes."""

from __future__ import annotations

import yaml

from conftest import REPO
from toponets.model_spec import DEFAULT_FACTOR, DEFAULT_PLACEMENT, FAMILIES, IMPORTED_ONLY, LANGUAGE, VISION

TRAINED_VISION = [f for f in VISION if f not in IMPORTED_ONLY]  # TDANN is imported from its authors' files only

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def experiment_schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())["$defs"]["experiment"]


def test_the_schema_lists_the_families_and_their_kinds():
    experiment = experiment_schema()
    assert experiment["properties"]["family"]["enum"] == list(FAMILIES)
    kinds = {rule["then"]["properties"]["recipe"]["$ref"]: rule["if"]["properties"]["family"]["enum"]
             for rule in experiment["allOf"]}
    assert kinds == {"#/$defs/vision_recipe": TRAINED_VISION, "#/$defs/language_recipe": list(LANGUAGE)}


def test_the_schema_defaults_are_the_specs():
    properties = experiment_schema()["properties"]
    assert properties["factor"]["default"] == DEFAULT_FACTOR
    assert properties["placement"]["default"] == DEFAULT_PLACEMENT


def test_every_family_has_a_default_recipe():
    from toponets.train import language, vision

    assert set(vision.DEFAULT_RECIPES) == set(TRAINED_VISION) and set(VISION) | set(LANGUAGE) == set(FAMILIES)
    for family in TRAINED_VISION:
        assert vision.resolve_spec({"family": family, "tau": 0})["recipe"] == vision.DEFAULT_RECIPES[family]
    for family in LANGUAGE:
        assert language.resolve_spec({"family": family, "tau": 0})["recipe"] == language.DEFAULT_RECIPE
