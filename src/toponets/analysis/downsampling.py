"""Downsampling topographic layers on their cortical sheet (paper A.5, METHODS §9.2).

A layer's weights, laid on its (h, w) sheet with each unit's incoming weights
as depth, are bilinearly resampled (``F.interpolate``, ``align_corners=False``,
scale 1/φ as in TopoLoss) to an (h', w') = (⌊h/φ⌋, ⌊w/φ⌋) sheet, so only h'·w'
units' weights are stored. The forward pass computes those h'·w' outputs,
bilinearly upsamples them over the sheet back to (h, w), and adds the
full-size bias, which is kept. To cut a layer's weights by a factor n, φ = √n
on both sides (the paper's 80% reduction of GPT-Neo-125M is n = 5, giving
102,306,048 parameters). The interpolation mode is not stated in the paper;
bilinear both ways follows TopoLoss.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..sheet import Sheet, sheet_for


def reduced_sheet(sheet: Sheet, factor: float) -> Sheet:
    """The (⌊h/√factor⌋, ⌊w/√factor⌋) sheet that cuts `sheet`'s units by about `factor`.

    Sizes are floored as ``F.interpolate(scale_factor=1/√factor)`` does (in double precision).
    """
    if isinstance(factor, bool) or not (isinstance(factor, numbers.Real) and factor >= 1):
        raise ValueError(f"downsampling factor must be a number >= 1 (the weight reduction), got {factor!r}")
    scale = 1.0 / math.sqrt(factor)
    height, width = math.floor(sheet.height * scale), math.floor(sheet.width * scale)
    if height < 1 or width < 1:
        raise ValueError(
            f"downsampling a {sheet.height}x{sheet.width} sheet by a factor {factor:g} (sides / {1 / scale:.3g}) "
            f"leaves a {height}x{width} sheet with no units; use a smaller factor"
        )
    return Sheet(height=height, width=width)


def downsample_weight(weight: torch.Tensor, factor: float) -> tuple[torch.Tensor, Sheet]:
    """Resample a (out, *in) weight on its sheet to (h'·w', *in); also the reduced sheet."""
    sheet = sheet_for(weight.shape[0])
    small = reduced_sheet(sheet, factor)
    image = weight.detach().float().reshape(1, sheet.height, sheet.width, -1).permute(0, 3, 1, 2)
    down = F.interpolate(image, scale_factor=1.0 / math.sqrt(factor), mode="bilinear", align_corners=False)
    assert down.shape[2:] == (small.height, small.width), (down.shape, small)
    down = down.permute(0, 2, 3, 1).reshape(small.units, *weight.shape[1:])
    return down.to(weight.dtype).contiguous(), small


def upsample_units(y: torch.Tensor, small: Sheet, sheet: Sheet) -> torch.Tensor:
    """Bilinearly upsample the last axis of `y`, (..., h'·w') units on `small`, to (..., h·w) on `sheet`."""
    lead = y.shape[:-1]
    image = y.reshape(-1, 1, small.height, small.width)
    up = F.interpolate(image, size=(sheet.height, sheet.width), mode="bilinear", align_corners=False)
    return up.reshape(*lead, sheet.units)


class DownsampledLinear(nn.Module):
    """A Linear layer whose (h·w, in) weight is stored at (h'·w', in) on a reduced sheet; bias kept full size."""

    def __init__(self, linear: nn.Linear, factor: float):
        super().__init__()
        self.sheet = sheet_for(linear.out_features)
        weight, self.small = downsample_weight(linear.weight, factor)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(weight, requires_grad=linear.weight.requires_grad)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = upsample_units(F.linear(x, self.weight), self.small, self.sheet)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features} on {self.sheet.height}x"
            f"{self.sheet.width}, stored {self.small.height}x{self.small.width}, bias={self.bias is not None}"
        )


class DownsampledConv2d(nn.Module):
    """A Conv2d whose output channels are stored on a reduced sheet, upsampled back to (h, w); full-size bias."""

    def __init__(self, conv: nn.Conv2d, factor: float):
        super().__init__()
        if conv.groups != 1:
            raise ValueError(f"cannot downsample a grouped convolution (groups={conv.groups}) on its sheet")
        self.sheet = sheet_for(conv.out_channels)
        weight, self.small = downsample_weight(conv.weight, factor)
        self.out_channels = conv.out_channels
        self.conv = nn.Conv2d(
            conv.in_channels,
            self.small.units,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            bias=False,
            padding_mode=conv.padding_mode,
            device=weight.device,
            dtype=weight.dtype,
        )
        self.conv.weight = nn.Parameter(weight, requires_grad=conv.weight.requires_grad)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).movedim(1, -1)  # (B, H, W, h'·w')
        y = upsample_units(y, self.small, self.sheet).movedim(-1, 1)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)


def downsample_layer(module: nn.Module, factor: float) -> nn.Module:
    """The downsampled counterpart of a Linear or Conv2d `module`."""
    if isinstance(module, nn.Linear):
        return DownsampledLinear(module, factor)
    if isinstance(module, nn.Conv2d):
        return DownsampledConv2d(module, factor)
    raise TypeError(f"can only downsample nn.Linear or nn.Conv2d layers, got {type(module).__name__}")


def downsample_model(model: nn.Module, layers: Iterable[str], factor: float) -> nn.Module:
    """A deep copy of `model` with each of `layers` replaced by its downsampled counterpart; `model` is not touched.

    `factor` is the reduction of each layer's weights (5 = 80% fewer); each sheet side shrinks by √factor.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("no layers to downsample")
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise KeyError(f"model has no layer(s) {missing}; e.g. {[n for n in modules if n][:8]}")
    result = copy.deepcopy(model)
    for name in layers:
        parent, _, child = name.rpartition(".")
        owner = result.get_submodule(parent)
        setattr(owner, child, downsample_layer(getattr(owner, child), factor))
    return result


def parameter_count(model: nn.Module) -> int:
    """Number of parameters of `model`, shared (tied) tensors counted once."""
    return sum(p.numel() for p in model.parameters())
