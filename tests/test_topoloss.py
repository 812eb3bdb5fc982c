"""TopoLoss: parity with the authors' package, gradients, training effect, errors."""

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from toponets.topoloss import TopoLoss

reference = pytest.importorskip("topoloss", reason="the authors' package topoloss==0.0.2 is a test dependency")


def _reference_loss(model, names, factor):
    """The authors' loss. Its size check compares factor_h with the depth and factor_w with
    the sheet height (an indexing slip), so the cases below keep both large enough."""
    fh, fw = factor if isinstance(factor, tuple) else (factor, factor)
    losses = [reference.LaplacianPyramid(layer_name=n, factor_h=fh, factor_w=fw) for n in names]
    return reference.TopoLoss(losses=losses).compute(model)


LAYERS = [
    nn.Linear(20, 64),  # 8 x 8
    nn.Linear(9, 128),  # 8 x 16
    nn.Linear(16, 768),  # 24 x 32
    nn.Linear(12, 3072),  # 48 x 64
    nn.Conv2d(3, 64, 3),  # 8 x 8, depth 27
    nn.Conv2d(16, 96, 1),  # 8 x 12
    nn.Conv2d(8, 512, (3, 5)),  # 16 x 32, non-square kernel
    nn.Conv2d(4, 200, 3),  # 10 x 20
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda m: f"{type(m).__name__}{tuple(m.weight.shape)}")
@pytest.mark.parametrize("factor", [3.0, 8.0, (3.0, 8.0), 2.5])
def test_equals_reference_package(layer, factor):
    torch.manual_seed(0)
    model = nn.Sequential(layer)
    nn.init.normal_(layer.weight)
    ours = TopoLoss(model, ["0"], factor=factor)()
    assert torch.allclose(ours, _reference_loss(model, ["0"], factor), atol=1e-6)


def test_prime_unit_count_gives_a_1xN_sheet_and_matches_reference():
    model = nn.Sequential(nn.Linear(9, 13))
    ours = TopoLoss(model, ["0"], factor=1.0)()
    assert torch.allclose(ours, _reference_loss(model, ["0"], 1.0), atol=1e-6)


def test_prime_unit_count_blurs_along_its_single_row():
    """The reference's size check refuses any factor_w > 1 on a 1xN sheet, so compare with its steps."""
    model = nn.Sequential(nn.Linear(9, 13))
    grid = model[0].weight.reshape(1, 13, 9).permute(2, 0, 1).unsqueeze(0)
    down = F.interpolate(grid, scale_factor=(1.0, 1 / 3.0), mode="bilinear")
    up = F.interpolate(down, size=(1, 13), mode="bilinear")
    want = 1 - F.cosine_similarity(grid[0].flatten(1).T, up[0].flatten(1).T, dim=-1).mean()
    assert torch.allclose(TopoLoss(model, ["0"], factor=(1.0, 3.0))(), want, atol=1e-6)
    with pytest.raises(ValueError, match="larger than the 1x13 cortical sheet"):
        TopoLoss(model, ["0"], factor=3.0)


def test_gradients_equal_autograd_through_the_reference():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(6, 128, 3), nn.Flatten(), nn.Linear(10, 768))
    names = ["0", "2"]
    _reference_loss(model, names, 3.0).backward()
    expected = [model.get_submodule(n).weight.grad.clone() for n in names]
    model.zero_grad()
    TopoLoss(model, names, factor=3.0)().backward()
    for n, want in zip(names, expected):
        torch.testing.assert_close(model.get_submodule(n).weight.grad, want, atol=1e-7, rtol=1e-5)


def test_mean_over_layers_and_per_layer():
    model = nn.Sequential(nn.Linear(4, 64), nn.Linear(64, 128))
    topo = TopoLoss(model, ["0", "1"])
    per = topo.per_layer()
    assert list(per) == ["0", "1"]
    assert torch.allclose(topo(), (per["0"] + per["1"]) / 2)
    assert topo.layer_names == ["0", "1"]


def test_a_perfectly_smooth_sheet_has_zero_loss_and_the_loss_stays_in_range():
    model = nn.Sequential(nn.Linear(10, 64))
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(1, 10).expand(64, 10))  # every unit has the same weights
    assert TopoLoss(model, ["0"])().abs() < 1e-6
    nn.init.normal_(model[0].weight)
    assert 0.0 <= TopoLoss(model, ["0"])().item() <= 2.0


def test_loss_falls_under_sgd():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 128, 3))
    topo = TopoLoss(model, ["0"])
    opt = torch.optim.SGD(model.parameters(), lr=5.0)
    start = topo().item()
    for _ in range(20):
        opt.zero_grad()
        topo().backward()
        opt.step()
    assert topo().item() < 0.5 * start


def test_half_precision_weights_are_lifted_to_float32():
    model = nn.Sequential(nn.Linear(8, 64)).to(torch.bfloat16)
    value = TopoLoss(model, ["0"])()
    assert value.dtype == torch.float32
    value.backward()
    assert model[0].weight.grad.dtype == torch.bfloat16


def test_unknown_layer_is_named_with_suggestions():
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 64)))
    with pytest.raises(KeyError, match=r"TopoLoss: the model has no layer named 'fc_1' \(did you mean \['fc1'\]"):
        TopoLoss(model, ["fc_1"])


def test_layer_that_is_not_linear_or_conv_is_rejected():
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 64)), nn.ReLU())
    with pytest.raises(TypeError, match=r"'1' is a ReLU"):
        TopoLoss(model, ["1"])
    with pytest.raises(TypeError, match=r"contains \['0.0'\]"):
        TopoLoss(model, ["0"])


@pytest.mark.parametrize("factor", [0.5, (3.0,), "3", (2.0, -1.0)])
def test_bad_factor_is_rejected(factor):
    with pytest.raises(ValueError, match="factor must be"):
        TopoLoss(nn.Sequential(nn.Linear(4, 64)), ["0"], factor=factor)


def test_factor_larger_than_a_sheet_side_is_rejected():
    model = nn.Sequential(nn.Linear(4, 128))  # 8 x 16
    with pytest.raises(ValueError, match="larger than the 8x16 cortical sheet of layer '0'"):
        TopoLoss(model, ["0"], factor=9.0)


def test_empty_layer_list_is_rejected():
    with pytest.raises(ValueError, match="TopoLoss: no layers given"):
        TopoLoss(nn.Sequential(nn.Linear(4, 64)), [])


def test_a_sheet_the_blur_shrinks_to_one_row_or_column_is_warned_about():
    """Section 2.1: the blur downsamples the sheet by the factor (3) and upsamples it back; a 4x4 sheet (16
    units, layer1 of a quarter-width ResNet-18) passes through 1x1, so the "blurred" sheet is the mean of the
    whole layer and TopoLoss pulls every unit towards it. The paper's 8x8 layer1 passes through 2x2."""
    model = nn.Sequential(nn.Linear(5, 16), nn.Linear(16, 64), nn.Linear(64, 13))
    assert TopoLoss(model, ["0", "1"], factor=3.0).collapsed() == {"0": ((4, 4), (1, 1))}
    assert TopoLoss(model, ["2"], factor=(1.0, 3.0)).collapsed() == {}  # 1x13 -> 1x4: no blur along the row
