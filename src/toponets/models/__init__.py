"""Model zoo: one builder per family and the registry of topographic layers.

`build(name, **options)` makes a fresh model of a family of
`toponets.model_spec.FAMILIES`; `topographic_layers(model, family,
placement)` names the layers that get TopoLoss (METHODS §1.6).
"""

from __future__ import annotations

import importlib
import re

from torch import nn

from ..model_spec import DEFAULT_PLACEMENT, FAMILIES

# Which modules carry the loss, per family and placement, as full-name patterns.
# ResNets: every conv of the residual blocks (BlurPool wraps some: the inner
# `.conv` is the real Conv2d). "tdann": one layer per ResNet-18 BasicBlock, the
# block's second conv, whose channels are the block's output, i.e. the 8
# locations at which TDANN (Margalit et al. 2024) places its units.
_PATTERNS: dict[tuple[str, str], str] = {
    ("resnet18", "paper"): r"layer[1-4]\.\d+\.(conv[12]|downsample\.0)(\.conv)?",
    ("resnet50", "paper"): r"layer[1-4]\.\d+\.(conv[123]|downsample\.0)(\.conv)?",
    ("resnet18", "tdann"): r"layer[1-4]\.[01]\.conv2",
    ("vit_b_32", "paper"): r"encoder\.layers\.encoder_layer_\d+\.mlp\.3",
    ("gpt_neo", "paper"): r"transformer\.h\.\d+\.mlp\.c_fc",
    ("nanogpt", "paper"): r"transformer\.h\.\d+\.mlp\.c_fc",
    ("tdann", "paper"): r"base_model\.layer[1-4]\.[01]",  # TDANN's own units: its 8 block outputs, positioned
}


# A ResNet's residual blocks (TDANN's trunk holds its ResNet as `base_model`).
_RESIDUAL_BLOCK = re.compile(r"(base_model\.)?layer[1-4]\.\d+")


def build(name: str, **options) -> nn.Module:
    """A freshly initialised model of family `name` (see `FAMILIES`)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family '{name}'; choose one of {sorted(FAMILIES)}")
    family = FAMILIES[name]
    build_model = getattr(importlib.import_module(f".{family.module}", __name__), family.builder)
    try:
        return build_model(*family.args, **options)
    except TypeError as err:
        raise TypeError(f"bad options for model '{name}': {err}") from err


def topographic_layers(model: nn.Module, family: str, placement: str = DEFAULT_PLACEMENT) -> list[str]:
    """Names of the Linear/Conv2d layers of `model` that get TopoLoss (or, for a model with given unit
    positions, its positioned layers), in module order."""
    if (family, placement) not in _PATTERNS:
        known = sorted(f"{f}/{p}" for f, p in _PATTERNS)
        raise ValueError(f"no topographic placement '{placement}' for family '{family}'; known: {known}")
    pattern = re.compile(_PATTERNS[(family, placement)])
    positioned = getattr(model, "positioned_layers", {})  # modules whose outputs carry given unit positions
    names = [
        name
        for name, module in model.named_modules()
        if pattern.fullmatch(name) and (isinstance(module, (nn.Linear, nn.Conv2d)) or name in positioned)
    ]
    if not names:
        raise ValueError(f"model has no layers matching the '{placement}' placement of family '{family}'")
    return names


def residual_blocks(model: nn.Module) -> list[str]:
    """Names of the residual blocks of a torchvision ResNet (layer1.0 ... layer4.1 in a ResNet-18), in module
    order: the layers whose outputs Margalit et al. (2024) measure (TDANN's `LAYER_ORDER`); [] for other models."""
    return [name for name, _ in model.named_modules() if _RESIDUAL_BLOCK.fullmatch(name)]
