"""Downsampling on the cortical sheet (METHODS §9.2, A.5): weights, forward passes, parameter counts, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from toponets.analysis.downsampling import (
    DownsampledConv2d,
    DownsampledLinear,
    downsample_model,
    parameter_count,
    upsample_units,
)
from toponets.models import build, topographic_layers
from toponets.sheet import Sheet


def test_gpt_neo_80_percent_downsampling_has_the_papers_parameter_count():
    with torch.device("meta"):  # shapes only: no 125M-parameter initialisation
        model = build("gpt_neo")
    layers = topographic_layers(model, "gpt_neo")
    small = downsample_model(model, layers, 5)
    assert parameter_count(model) == 125_198_592
    assert parameter_count(small) == 102_306_048
    for name in layers:
        layer = small.get_submodule(name)
        assert isinstance(layer, DownsampledLinear)
        assert layer.weight.shape == (21 * 28, 768) and layer.bias.shape == (3072,)
        assert isinstance(model.get_submodule(name), nn.Linear)


def test_manual_computation_on_a_2x4_sheet():
    """Factor 4 halves both sides: 2x4 -> 1x2, each stored unit the mean of a 2x2 block."""
    torch.manual_seed(0)
    linear = nn.Linear(3, 8)
    layer = DownsampledLinear(linear, 4)
    w = linear.weight.detach()
    left, right = w[[0, 1, 4, 5]].mean(dim=0), w[[2, 3, 6, 7]].mean(dim=0)
    torch.testing.assert_close(layer.weight.detach(), torch.stack([left, right]))
    # upsampling 1x2 -> 2x4 (align_corners=False): columns sample at -0.25, 0.25, 0.75, 1.25, clamped at the edges
    mix = torch.tensor([0.0, 0.25, 0.75, 1.0])
    row = (1 - mix)[:, None] * left + mix[:, None] * right
    effective = torch.cat([row, row])  # both sheet rows read the single stored row
    x = torch.randn(5, 3)
    torch.testing.assert_close(layer(x), x @ effective.T + linear.bias, rtol=1e-5, atol=1e-6)


def test_weight_constant_over_the_sheet_gives_the_original_outputs():
    linear = nn.Linear(5, 48)  # 6 x 8 sheet
    with torch.no_grad():
        linear.weight.copy_(torch.randn(5).expand(48, 5))
    x = torch.randn(2, 7, 5)
    torch.testing.assert_close(DownsampledLinear(linear, 5)(x), linear(x), rtol=1e-5, atol=1e-5)


def test_factor_one_reproduces_linear_and_conv_layers():
    torch.manual_seed(1)
    linear, conv = nn.Linear(6, 24), nn.Conv2d(3, 12, 3, stride=2, padding=1)
    x, images = torch.randn(4, 6), torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(DownsampledLinear(linear, 1)(x), linear(x))
    torch.testing.assert_close(DownsampledConv2d(conv, 1)(images), conv(images))


def test_outputs_keep_their_shape_and_equal_upsampled_weights():
    """Resampling is linear, so a downsampled layer acts like the original with up(down(W)) as weights."""
    torch.manual_seed(2)
    linear, conv = nn.Linear(6, 48), nn.Conv2d(3, 32, 3, padding=1, bias=False)  # sheets 6x8 and 4x8
    x, images = torch.randn(2, 5, 6), torch.randn(2, 3, 7, 7)
    small_linear, small_conv = DownsampledLinear(linear, 4), DownsampledConv2d(conv, 4)
    assert small_linear.weight.shape == (3 * 4, 6) and small_conv.conv.weight.shape == (2 * 4, 3, 3, 3)
    y, maps = small_linear(x), small_conv(images)
    assert y.shape == (2, 5, 48) and maps.shape == (2, 32, 7, 7)

    up_linear = upsample_units(small_linear.weight.detach().T, Sheet(3, 4), Sheet(6, 8)).T
    torch.testing.assert_close(y, F.linear(x, up_linear, linear.bias), rtol=1e-5, atol=1e-5)
    stored = small_conv.conv.weight.detach().reshape(8, -1)
    up_conv = upsample_units(stored.T, Sheet(2, 4), Sheet(4, 8)).T.reshape(32, 3, 3, 3)
    torch.testing.assert_close(maps, F.conv2d(images, up_conv, padding=1), rtol=1e-5, atol=1e-5)


def test_model_copy_replaces_only_named_layers():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 16))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    small = downsample_model(model, ["0"], 4)
    assert isinstance(small[0], DownsampledLinear) and isinstance(model[0], nn.Linear)
    assert small[0].weight.shape == (16, 4)  # 8x8 -> 4x4
    assert parameter_count(small) == parameter_count(model) - (64 - 16) * 4
    torch.testing.assert_close(small[2].weight, model[2].weight)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert small(torch.randn(3, 4)).shape == (3, 16)


def test_clear_errors():
    with pytest.raises(ValueError, match="2x4 sheet.*no units"):
        DownsampledLinear(nn.Linear(3, 8), 9)
    with pytest.raises(ValueError, match=">= 1"):
        DownsampledLinear(nn.Linear(3, 8), 0.5)
    with pytest.raises(ValueError, match="grouped"):
        DownsampledConv2d(nn.Conv2d(4, 8, 1, groups=2), 4)
    with pytest.raises(TypeError, match="nn.Linear or nn.Conv2d"):
        downsample_model(nn.Sequential(nn.ReLU()), ["0"], 4)
    with pytest.raises(KeyError, match="no layer"):
        downsample_model(nn.Sequential(nn.ReLU()), ["3"], 4)
