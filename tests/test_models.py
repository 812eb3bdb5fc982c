"""Model builders and the topographic-layer registry (METHODS §1.6, §11)."""

import pytest
import torch
from torch import nn

from toponets.models import build, topographic_layers
from toponets.models.resnet import BlurPoolConv2d
from toponets.sheet import sheet_for
from toponets.topoloss import TopoLoss


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_gpt_neo_125m_has_the_published_parameter_count():
    model = build("gpt_neo")
    assert _params(model) == 125_198_592  # tied embeddings, as the HF checkpoint
    layers = topographic_layers(model, "gpt_neo")
    assert layers == [f"transformer.h.{i}.mlp.c_fc" for i in range(12)]
    fc = model.get_submodule(layers[0])
    assert tuple(fc.weight.shape) == (3072, 768)
    assert (sheet_for(3072).height, sheet_for(3072).width) == (48, 64)
    assert model.config.attention_layers == ["global", "local"] * 6


def test_nanogpt_124m_shape_and_tied_head():
    model = build("nanogpt")
    assert _params(model) == 124_373_760  # GPT-2 small with the 50304 padded vocabulary
    assert model.lm_head.weight is model.transformer.wte.weight
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Linear))
    assert len(topographic_layers(model, "nanogpt")) == 12


def test_small_nanogpt_is_causal():
    torch.manual_seed(0)
    model = build("nanogpt", n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=50).eval()
    x = torch.randint(0, 50, (1, 10))
    y = x.clone()
    y[0, 7] = (y[0, 7] + 1) % 50
    torch.testing.assert_close(model(x)[0, :7], model(y)[0, :7])
    with pytest.raises(ValueError, match="longer than block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_resnet18_layers_and_blurpool():
    model = build("resnet18")
    assert _params(model) == 11_689_512  # torchvision's count: the blur filters are buffers
    layers = topographic_layers(model, "resnet18")
    assert len(layers) == 19
    assert "layer2.0.conv1.conv" in layers and "layer2.0.downsample.0.conv" in layers
    assert "conv1" not in layers and "fc" not in layers
    blurred = sorted(n for n, m in model.named_modules() if isinstance(m, BlurPoolConv2d))
    assert blurred == [f"layer{i}.0.{c}" for i in (2, 3, 4) for c in ("conv1", "downsample.0")]
    assert "layer2.0.conv1.blur_filter" in model.state_dict()


def test_resnet50_layers():
    model = build("resnet50")
    assert _params(model) == 25_557_032
    layers = topographic_layers(model, "resnet50")
    assert len(layers) == 52  # 16 bottlenecks x 3 convs + 4 downsample convs
    assert "layer2.0.conv2.conv" in layers  # ResNet-50 blurs the strided 3x3


def test_tdann_placement_is_one_conv_per_basic_block():
    layers = topographic_layers(build("resnet18"), "resnet18", "tdann")
    assert layers == [f"layer{s}.{b}.conv2" for s in (1, 2, 3, 4) for b in (0, 1)]


def test_vit_b_32_layers():
    model = build("vit_b_32")
    layers = topographic_layers(model, "vit_b_32")
    assert layers == [f"encoder.layers.encoder_layer_{i}.mlp.3" for i in range(12)]
    assert tuple(model.get_submodule(layers[0]).weight.shape) == (768, 3072)


def test_small_resnet_trains_with_topoloss_at_factor_3():
    torch.manual_seed(0)
    model = build("resnet18", width_multiplier=0.25, small_stem=True, num_classes=10)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    topo = TopoLoss(model, topographic_layers(model, "resnet18"), factor=3.0)
    assert min(layer.sheet.height for layer in topo.layers) == 4  # 16 channels -> 4 x 4


def test_small_vit_and_gpt_neo_build():
    vit = build("vit_b_32", image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=5)
    assert vit(torch.randn(1, 3, 32, 32)).shape == (1, 5)
    neo = build("gpt_neo", vocab_size=100, hidden_size=32, num_layers=3, num_heads=2, max_position_embeddings=64)
    assert neo(torch.randint(0, 100, (1, 8))).logits.shape == (1, 8, 100)
    assert neo.config.eos_token_id == 99


def test_bad_builds_and_placements_are_explained():
    with pytest.raises(ValueError, match="unknown model family 'resnet34'"):
        build("resnet34")
    with pytest.raises(TypeError, match="bad options for model 'nanogpt'"):
        build("nanogpt", n_layers=2)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        build("vit_b_32", image_size=100)
    with pytest.raises(ValueError, match="no topographic placement 'tdann' for family 'nanogpt'"):
        topographic_layers(build("nanogpt", n_layer=1, n_head=1, n_embd=8, vocab_size=10), "nanogpt", "tdann")
