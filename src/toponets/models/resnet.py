"""ResNet-18/50 as the authors trained them: torchvision architectures with
ffcv's BlurPool on strided convs (METHODS §1.6, §11.1), plus the width and
stem options the small presets need."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

_ARCHITECTURES = {18: (BasicBlock, [2, 2, 2, 2]), 50: (Bottleneck, [3, 4, 6, 3])}


class BlurPoolConv2d(nn.Module):
    """A fixed [1,2,1]x[1,2,1]/16 depthwise blur before a strided conv (ffcv's recipe).

    The wrapped conv is `.conv` and the filter the buffer `blur_filter`, as in
    the authors' checkpoints.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
        self.conv = conv
        self.register_buffer("blur_filter", kernel.expand(conv.in_channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blurred = F.conv2d(x, self.blur_filter, stride=1, padding=1, groups=self.conv.in_channels)
        return self.conv(blurred)


def apply_blurpool(module: nn.Module) -> None:
    """Wrap every conv with stride > 1 and at least 16 input channels in BlurPool, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and max(child.stride) > 1 and child.in_channels >= 16:
            setattr(module, name, BlurPoolConv2d(child))
        else:
            apply_blurpool(child)


def _rebuild_trunk(model: ResNet, depth: int, base: int, small_stem: bool, num_classes: int) -> None:
    """Rebuild stem, stages and head of a torchvision ResNet at base width `base`, using its own `_make_layer`."""
    block, layers = _ARCHITECTURES[depth]
    model.inplanes = base
    if small_stem:  # 3x3 stride-1 stem without max-pool, for 32-64 px images
        model.conv1 = nn.Conv2d(3, base, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
    model.bn1 = nn.BatchNorm2d(base)
    model.layer1 = model._make_layer(block, base, layers[0])
    model.layer2 = model._make_layer(block, 2 * base, layers[1], stride=2)
    model.layer3 = model._make_layer(block, 4 * base, layers[2], stride=2)
    model.layer4 = model._make_layer(block, 8 * base, layers[3], stride=2)
    model.fc = nn.Linear(8 * base * block.expansion, num_classes)
    for m in model.modules():  # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_resnet(
    depth: int,
    num_classes: int = 1000,
    width_multiplier: float = 1.0,
    small_stem: bool = False,
    blurpool: bool = True,
) -> ResNet:
    """torchvision ResNet-`depth` (18 or 50); base width 64 * `width_multiplier`."""
    if depth not in _ARCHITECTURES:
        raise ValueError(f"ResNet depth must be one of {sorted(_ARCHITECTURES)}, got {depth}")
    base = round(64 * width_multiplier)
    if base < 1:
        raise ValueError(f"width_multiplier {width_multiplier} gives no channels; use a value >= 1/64")
    block, layers = _ARCHITECTURES[depth]
    model = ResNet(block, layers, num_classes=num_classes)
    if base != 64 or small_stem:
        _rebuild_trunk(model, depth, base, small_stem, num_classes)
    if blurpool:
        apply_blurpool(model)
    return model
