"""L1 unstructured pruning (METHODS §9.1): which weights go, per-layer vs global, the curve, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import tiny_checkpoint, tiny_image_folder
from toponets.analysis.accuracy import top1_accuracy
from toponets.analysis.pruning import factor_of_fraction, fractions_for_factors, pruned_copy, pruning_curve
from toponets.checkpoints import load_checkpoint
from toponets.cli import pruning as cli
from toponets.data.images import eval_transform, image_folder, loader
from toponets.models import topographic_layers


def small_model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 9, 10), nn.ReLU(), nn.Linear(10, 3))


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_each_layer_loses_its_smallest_weights(fraction):
    model = small_model()
    pruned = pruned_copy(model, ["0", "2"], fraction)
    for name in ["0", "2"]:
        before, after = model.get_submodule(name).weight.flatten(), pruned.get_submodule(name).weight.flatten()
        k = round(fraction * before.numel())
        zeroed = (after == 0).nonzero().flatten()
        assert len(zeroed) == k
        assert set(zeroed.tolist()) == set(before.abs().argsort()[:k].tolist())
        kept = after != 0
        torch.testing.assert_close(after[kept], before[kept], rtol=0, atol=0)


def test_global_scope_pools_layers_with_different_scales():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    with torch.no_grad():
        model[1].weight.mul_(100.0)  # every weight of layer 1 outweighs every weight of layer 0
    per_layer = pruned_copy(model, ["0", "1"], 0.5)
    pooled = pruned_copy(model, ["0", "1"], 0.5, scope="global")
    assert [(m.weight == 0).sum().item() for m in per_layer] == [32, 32]
    assert [(m.weight == 0).sum().item() for m in pooled] == [64, 0]


def test_original_and_other_parameters_untouched_and_copy_is_plain():
    model = small_model()
    before = weights(model)
    pruned = pruned_copy(model, ["2"], 0.8, scope="global")
    for key, value in weights(model).items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    after = weights(pruned)
    assert set(after) == set(before)  # no weight_orig / weight_mask left behind
    for key in before:
        if key != "2.weight":
            torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    assert (after["2.weight"] == 0).sum() == round(0.8 * 360)
    assert all(not m._forward_pre_hooks for m in pruned.modules())
    assert isinstance(pruned[2].weight, nn.Parameter)


def test_curve_reports_change_from_unpruned():
    model = small_model()
    calls = []

    def zeros(m: nn.Module) -> float:
        calls.append(m)
        return float((m[2].weight == 0).sum())

    points = pruning_curve(model, ["2"], zeros, fractions=[0, 0.5, 0.9])
    rows = [(p.fraction, p.value, p.change) for p in points]
    assert rows == [(0.0, 0.0, 0.0), (0.5, 180.0, 180.0), (0.9, 324.0, 324.0)]
    assert len(calls) == 3 and calls[0] is model


def test_clear_errors():
    model = small_model()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pruned_copy(model, ["0"], 1.5)
    with pytest.raises(ValueError, match="scope"):
        pruned_copy(model, ["0"], 0.5, scope="row")
    with pytest.raises(KeyError, match="no layer"):
        pruning_curve(model, ["9"], lambda m: 0.0)
    with pytest.raises(TypeError, match="no weight"):
        pruned_copy(model, ["1"], 0.5)
    with pytest.raises(ValueError, match="no pruning fractions"):
        pruning_curve(model, ["0"], lambda m: 0.0, fractions=[])


def test_cli_writes_tidy_curve(tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    model = tiny_checkpoint(checkpoint)
    layers = topographic_layers(model, "resnet18")
    tiny_image_folder(tmp_path / "val", classes=3, per_class=3)
    out = tmp_path / "out" / "curve.csv"
    args = ["--checkpoint", str(checkpoint), "--images", str(tmp_path / "val")]
    settings = {"pruning": {"res": 16, "batch_size": 6, "max_images": 6, "fractions": [0, 0.9]}}
    cli.main([*args, "--settings", json.dumps(settings), "--device", "cpu", "--out", str(out)])
    table = pd.read_csv(out)
    assert list(table.columns) == ["model", "tau", "seed", "fraction", "factor", "metric", "value", "change"]
    assert table["fraction"].tolist() == [0.0, 0.9] and set(table["metric"]) == {"top1"}
    np.testing.assert_allclose(table["factor"], [1.0, 10.0])

    loaded, _ = load_checkpoint(checkpoint)
    batches = loader(image_folder(tmp_path / "val", transform=eval_transform(16), max_images=6), 6, shuffle=False)
    expected = [top1_accuracy(pruned_copy(loaded, layers, f), batches).top1 for f in (0.0, 0.9)]
    np.testing.assert_allclose(table["value"], expected)
    np.testing.assert_allclose(table["change"], np.array(expected) - expected[0])
    assert not list(out.parent.glob(".*.part"))


def test_pruning_levels_pair_with_downsampling_factors():
    """Section 2.4: "To reduce the number of weights by a factor of n, we prune (100 - 100/n)% of the smallest
    weights", so that "each sparsity level corresponds to the same effective parameter count" as the
    downsampling by n (A.5: 80% downsampling is n = 5)."""
    np.testing.assert_allclose(fractions_for_factors([1, 2, 3, 5, 10]), [0, 0.5, 2 / 3, 0.8, 0.9])
    assert [factor_of_fraction(p) for p in (0.0, 0.8)] == pytest.approx([1.0, 5.0])
    assert factor_of_fraction(1.0) == np.inf
    with pytest.raises(ValueError, match="numbers >= 1"):
        fractions_for_factors([0.5])


def test_cli_takes_levels_as_weight_reductions(tmp_path):
    """fractions null: the levels are the downsampling factors' (the settings borrow downsampling.factors)."""
    checkpoint = tmp_path / "model.safetensors"
    tiny_checkpoint(checkpoint)
    tiny_image_folder(tmp_path / "val", classes=3, per_class=2)
    out = tmp_path / "curve.csv"
    args = ["--checkpoint", str(checkpoint), "--images", str(tmp_path / "val"), "--device", "cpu"]
    settings = {"pruning": {"res": 16, "fractions": None}, "downsampling": {"factors": [1, 5]}}
    cli.main([*args, "--settings", json.dumps(settings), "--out", str(out)])
    table = pd.read_csv(out)
    np.testing.assert_allclose(table[["fraction", "factor"]], [[0.0, 1.0], [0.8, 5.0]])
    with pytest.raises(SystemExit):  # a section pruning does not read
        cli.main([*args, "--settings", json.dumps({**settings, "smoothness": {}}), "--out", str(out)])
    with pytest.raises(SystemExit):  # a factor below 1
        cli.main([*args, "--settings", json.dumps({"downsampling": {"factors": [0.5]}}), "--out", str(out)])
