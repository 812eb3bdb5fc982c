"""TopoLoss: smoothness of a layer's weights on its cortical sheet.

For each chosen Linear or Conv2d layer the output units are laid row-major on
a (h, w) sheet, each unit carrying its flattened incoming weights as a depth
vector. The sheet is blurred by bilinear downsampling by 1/factor and
upsampling back (``F.interpolate``, ``align_corners=False``), and the layer
loss is 1 - mean cosine similarity between each unit's weights and their
blurred version (METHODS §1.3). The total is the mean over layers; the caller
scales it: ``loss = task_loss + tau * topo()``.

Values equal the authors' ``topoloss==0.0.2`` (``LaplacianPyramid``,
bilinear): the forward pass is the same resampling. The speed comes from the
backward pass: the weights are resampled as a channels-last (1, depth, h, w)
view with no copy, and the cosine's gradient is written in closed form, so
autograd's dozen full-size temporaries per layer become three.
"""

from __future__ import annotations

import math

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import layers_by_name
from .model_spec import DEFAULT_FACTOR
from .sheet import Sheet, sheet_for

Factor = float | tuple[float, float]


def _factor_pair(factor: Factor) -> tuple[float, float]:
    pair = (factor, factor) if isinstance(factor, (int, float)) else tuple(factor)
    if len(pair) != 2 or any(not isinstance(f, (int, float)) or f < 1 for f in pair):
        raise ValueError(f"factor must be a number >= 1 or an (h, w) pair of them, got {factor!r}")
    return float(pair[0]), float(pair[1])


_EPS = 1e-8  # F.cosine_similarity's default: each norm is clamped to at least this


def _as_image(sheet: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(h*w, depth) row-major sheet -> channels-last (1, depth, h, w) view."""
    return sheet.view(1, h, w, -1).permute(0, 3, 1, 2)


def _as_sheet(image: torch.Tensor) -> torch.Tensor:
    """Inverse of `_as_image`."""
    return image.permute(0, 2, 3, 1).reshape(-1, image.shape[1])


class _SheetCosineLoss(torch.autograd.Function):
    """1 - mean_k cos(W_k, B_k), B = up(down(W)), with a closed-form backward.

    With s = -1/(h w), c_k the cosines and A^T the adjoint of the resampling:
    dL/dW_k = s (B_k/(|W||B|) - c_k W_k/|W|^2) + A^T[s (W_k/(|W||B|) - c_k B_k/|B|^2)].
    """

    @staticmethod
    def forward(ctx, weight, h, w, fh, fw):
        sheet = weight.reshape(h * w, -1)
        down = F.interpolate(_as_image(sheet, h, w), scale_factor=(1.0 / fh, 1.0 / fw), mode="bilinear")
        blurred = _as_sheet(F.interpolate(down, size=(h, w), mode="bilinear"))
        norm_w = torch.linalg.vector_norm(sheet, dim=-1).clamp_min(_EPS)
        norm_b = torch.linalg.vector_norm(blurred, dim=-1).clamp_min(_EPS)
        cosine = torch.linalg.vecdot(sheet, blurred) / (norm_w * norm_b)
        ctx.save_for_backward(weight, blurred, norm_w, norm_b, cosine)
        ctx.geometry = (h, w, fh, fw, tuple(down.shape))
        return 1.0 - cosine.mean()

    @staticmethod
    def backward(ctx, grad_output):
        weight, blurred, norm_w, norm_b, cosine = ctx.saved_tensors
        h, w, fh, fw, down_shape = ctx.geometry
        sheet = weight.reshape(h * w, -1)
        scale = -grad_output / (h * w)
        cross = (scale / (norm_w * norm_b)).unsqueeze(1)
        grad_blurred = torch.mul(sheet, cross).addcmul_(blurred, (-scale * cosine / norm_b**2).unsqueeze(1))
        full_shape = [1, sheet.shape[1], h, w]
        grad_down = torch.ops.aten.upsample_bilinear2d_backward(
            _as_image(grad_blurred, h, w), [h, w], list(down_shape), False, None, None
        )
        grad_image = torch.ops.aten.upsample_bilinear2d_backward(
            grad_down, list(down_shape[2:]), full_shape, False, 1.0 / fh, 1.0 / fw
        )
        grad = _as_sheet(grad_image).contiguous()
        grad.addcmul_(blurred, cross).addcmul_(sheet, (-scale * cosine / norm_w**2).unsqueeze(1))
        return grad.view_as(weight), None, None, None, None


class _TopoLayer:
    """One layer under TopoLoss: its name, module and sheet."""

    def __init__(self, name: str, module: nn.Module, factor: tuple[float, float]):
        self.name = name
        self.module = module
        self.factor = factor
        self.sheet: Sheet = sheet_for(module.weight.shape[0])
        fh, fw = factor
        if fh > self.sheet.height or fw > self.sheet.width:
            raise ValueError(
                f"TopoLoss factor ({fh:g}, {fw:g}) is larger than the {self.sheet.height}x{self.sheet.width} "
                f"cortical sheet of layer '{name}' ({self.sheet.units} units); use a factor of at most "
                f"({self.sheet.height}, {self.sheet.width}) or leave this layer out"
            )

    @property
    def blurred_size(self) -> tuple[int, int]:
        """The (h', w') sheet the blur passes through: ``F.interpolate(scale_factor=1/factor)`` floors."""
        return math.floor(self.sheet.height / self.factor[0]), math.floor(self.sheet.width / self.factor[1])

    def loss(self) -> torch.Tensor:
        weight = self.module.weight
        if weight.dtype in (torch.float16, torch.bfloat16):
            weight = weight.float()
        return _SheetCosineLoss.apply(weight, self.sheet.height, self.sheet.width, *self.factor)


def _check_type(name: str, module: nn.Module) -> nn.Module:
    if not isinstance(module, (nn.Linear, nn.Conv2d)):
        inner = [f"{name}.{n}" for n, m in module.named_modules() if n and isinstance(m, (nn.Linear, nn.Conv2d))]
        hint = f"; it contains {inner[:3]}" if inner else ""
        raise TypeError(
            f"TopoLoss: layer '{name}' is a {type(module).__name__}, but only nn.Linear and nn.Conv2d "
            f"layers have a cortical sheet{hint}"
        )
    return module


class TopoLoss:
    """TopoLoss over named layers of `model`.

    ``topo()`` is the unscaled mean of the per-layer losses (a scalar tensor
    with gradient); ``topo.per_layer()`` maps each layer name to its loss.
    The loss is always computed in float32 or wider, outside autocast.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], factor: Factor = DEFAULT_FACTOR):
        if isinstance(layers, str):
            raise ValueError("TopoLoss needs a list of layer names, not one string")
        pair = _factor_pair(factor)
        modules = layers_by_name(model, layers, "TopoLoss")
        self.factor = pair
        self.layers = [_TopoLayer(name, _check_type(name, m), pair) for name, m in zip(layers, modules)]

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def collapsed(self) -> dict[str, tuple[tuple[int, int], tuple[int, int]]]:
        """Layer name -> (sheet, blurred sheet) of each layer whose sheet the blur shrinks to a single row or
        column: along that side the blur is the mean of the whole side, so TopoLoss pulls the layer's units
        towards the same weights (a quarter-width ResNet-18's 4x4 layer1 at factor 3 ends with every unit alike)."""
        found = {}
        for layer in self.layers:
            (h, w), (fh, fw) = layer.blurred_size, layer.factor
            if (fh > 1 and h <= 1) or (fw > 1 and w <= 1):
                found[layer.name] = ((layer.sheet.height, layer.sheet.width), (h, w))
        return found

    def per_layer(self) -> dict[str, torch.Tensor]:
        device_type = self.layers[0].module.weight.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            return {layer.name: layer.loss() for layer in self.layers}

    def __call__(self) -> torch.Tensor:
        return torch.stack(list(self.per_layer().values())).mean()
