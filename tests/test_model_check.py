"""Each experiment's model is built on the meta device when the config is loaded, so option and factor
mistakes stop the workflow before any job runs."""

import json

import pytest
import yaml

from conftest import REPO
from toponets.model_check import check_models


def experiment(**changes):
    return {"name": "r18", "family": "resnet18", "options": {"width_multiplier": 0.25, "num_classes": 4}, **changes}


def test_presets_models_pass():
    for preset in ("config.yaml", "config/smoke.yaml", "config/small.yaml", "config/paper.yaml"):
        check_models(yaml.safe_load((REPO / preset).read_text())["experiments"])


def test_unknown_option_is_named():
    bad = experiment(options={"width_multiplier": 0.25, "widht": 2})
    with pytest.raises(ValueError, match=r"experiments\[r18\] \(resnet18\): bad options for model 'resnet18': "
                                         r"build_resnet\(\) got an unexpected keyword argument 'widht'"):
        check_models([bad])


def test_factor_larger_than_a_sheet_is_named():
    # quarter width: layer1 has 16 channels, a 4x4 sheet
    with pytest.raises(ValueError, match=r"experiments\[r18\] \(resnet18\): TopoLoss factor \(5, 5\) is larger than "
                                         r"the 4x4 cortical sheet of layer 'layer1.0.conv1'"):
        check_models([experiment(factor=5.0)])


def test_unknown_placement_is_named():
    with pytest.raises(ValueError, match="no topographic placement 'v1' for family 'resnet18'"):
        check_models([experiment(placement="v1")])


def test_passed_checks_are_cached(tmp_path, monkeypatch):
    cache = tmp_path / "checked.json"
    check_models([experiment()], cache=cache)
    assert len(json.loads(cache.read_text())) == 1

    def fail(key):
        raise AssertionError("a cached model was built again")

    monkeypatch.setattr("toponets.model_check.check_model", fail)
    check_models([experiment(name="same model, another name")], cache=cache)
    with pytest.raises(AssertionError):
        check_models([experiment(factor=2.0)], cache=cache)


def test_collapsing_sheets_are_warned_about_also_from_the_cache(tmp_path):
    """Section 2.1's blur at factor 3: the quarter-width ResNet-18's 4x4 layer1 sheets shrink to 1x1 and its
    4x8 layer2 sheets to 1x2; layer3 (8x8) keeps 2x2."""
    cache = tmp_path / "checked.json"
    for _ in range(2):  # built, then read from the cache
        [warning] = check_models([experiment()], cache=cache)
        assert warning.startswith("experiments[r18]: the blur (factor 3.0) shrinks the sheets of 9 layer(s)")
        assert "layer1.0.conv1 4x4 -> 1x1" in warning and "layer2.0.downsample.0.conv 4x8 -> 1x2" in warning
    assert check_models([experiment(options={})]) == []  # the paper's width: 8x8 -> 2x2
