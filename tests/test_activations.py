"""Streaming per-unit responses through forward hooks: reductions, batch forms, hook hygiene."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toponets.analysis.activations import recording, reduce_units, stream_activations
from toponets.device import select_device


def conv_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 6, 3, stride=2))


class TokenNet(nn.Module):
    """Embedding + Linear over tokens; takes keyword inputs like a Hugging Face model."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(20, 4)
        self.fc = nn.Linear(4, 5)

    def forward(self, input_ids, attention_mask=None):
        return self.fc(self.embed(input_ids))


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


@pytest.mark.parametrize("reduce", ["mean", "max"])
def test_conv_channels_reduced_over_space(reduce):
    model = conv_net()
    images = torch.randn(10, 3, 11, 11)
    batches = [images[:4], (images[4:], torch.arange(6))]  # a bare tensor and an (inputs, labels) pair
    out = list(stream_activations(model, ["0", "2"], batches, reduce=reduce))
    assert len(out) == 2 and set(out[0]) == {"0", "2"}
    with torch.no_grad():
        first, second = model[0](images), model(images)
    pool = (lambda t: t.mean(dim=(2, 3))) if reduce == "mean" else (lambda t: t.amax(dim=(2, 3)))
    for name, full in [("0", first), ("2", second)]:
        got = torch.cat([b[name] for b in out])
        assert got.dtype == torch.float32 and not got.requires_grad
        assert got.shape == (10, full.shape[1])
        torch.testing.assert_close(got, pool(full))


def test_linear_tokens_reduced_with_and_without_mask():
    model = TokenNet()
    ids = torch.randint(0, 20, (3, 6))
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        full = model(ids)
    (plain,) = stream_activations(model, ["fc"], [ids])
    torch.testing.assert_close(plain["fc"], full.mean(dim=1))
    (masked,) = stream_activations(model, ["fc"], [{"input_ids": ids, "attention_mask": mask}])
    (masked_max,) = stream_activations(model, ["fc"], [{"input_ids": ids, "attention_mask": mask}], reduce="max")
    for i, n in enumerate([6, 3, 1]):
        torch.testing.assert_close(masked["fc"][i], full[i, :n].mean(dim=0))
        torch.testing.assert_close(masked_max["fc"][i], full[i, :n].amax(dim=0))


def test_linear_without_token_axis_is_kept():
    layer = nn.Linear(4, 3)
    x = torch.randn(5, 3, dtype=torch.float64)
    out = reduce_units(x, layer)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, x.float())


def test_hooks_removed_and_mode_restored_after_exhaustion_break_and_error():
    model = conv_net().train()
    batches = [torch.randn(2, 3, 9, 9) for _ in range(3)]
    list(stream_activations(model, ["0"], batches))
    assert hook_count(model) == 0 and model.training

    stream = stream_activations(model, ["0", "2"], batches)
    next(stream)
    assert hook_count(model) == 2 and not model.training
    stream.close()
    assert hook_count(model) == 0 and model.training

    with pytest.raises(RuntimeError):
        list(stream_activations(model, ["0"], [torch.randn(2, 5, 9, 9)]))  # wrong channel count
    assert hook_count(model) == 0 and model.training


def test_recording_removes_hooks_on_error():
    model = conv_net()
    with pytest.raises(ZeroDivisionError), recording(model, ["0"]) as (responses, _):
        assert hook_count(model) == 1
        1 / 0
    assert hook_count(model) == 0


def test_clear_errors():
    model = conv_net()
    with pytest.raises(KeyError, match="no layer"):
        list(stream_activations(model, ["layer9"], [torch.randn(1, 3, 9, 9)]))
    with pytest.raises(TypeError, match="ReLU"):
        list(stream_activations(model, ["1"], [torch.randn(1, 3, 9, 9)]))
    with pytest.raises(ValueError, match="unknown reduction"):
        list(stream_activations(model, ["0"], [torch.randn(1, 3, 9, 9)], reduce="median"))
    with pytest.raises(ValueError, match="no layers"):
        list(stream_activations(model, [], [torch.randn(1, 3, 9, 9)]))
    assert hook_count(model) == 0


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            select_device("cuda")
