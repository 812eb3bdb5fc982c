"""TDANN (Margalit et al. 2024), the paper's comparison model, shaped as its authors' code defines it.

TDANN's trunk is a torchvision ResNet-18 without its fc layer, held as
``base_model`` (so its weights are named ``base_model.layer1.0.conv1.weight``
..., as in the authors' VISSL checkpoints). Its units are the outputs of the 8
BasicBlocks, ``base_model.layer1.0`` ... ``base_model.layer4.1``: every
(channel, row, col) of a block's output is one unit with its own 2-D cortical
position in mm, unlike TopoNets, whose units are channels on a sheet. The
positions travel with the weights as buffers ``unit_positions.layer1_0``, ...,
each (channels x rows x cols, 2) in the authors' flattening order (channel
slowest, then row, then col; their ``coordinates``, x then y). They depend on
the input size, so `image_size` is a builder option (224 in TDANN).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import resnet18

BLOCKS = ("layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1")
CHANNELS = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def block_dims(image_size: int) -> dict[str, tuple[int, int, int]]:
    """(channels, rows, cols) of each block's output for square `image_size` inputs."""
    side = _conv_out(_conv_out(image_size, 7, 2, 3), 3, 2, 1)  # stem conv, max-pool
    dims = {}
    for block in BLOCKS:
        stage = block.split(".")[0]
        if block.endswith(".0") and stage != "layer1":
            side = _conv_out(side, 3, 2, 1)
        dims[block] = (CHANNELS[stage], side, side)
    return dims


def buffer_name(block: str) -> str:
    """The buffer of a block's positions: "layer1.0" -> "layer1_0" (buffer names have no dots)."""
    return block.replace(".", "_")


class TDANN(nn.Module):
    """TDANN's ResNet-18 trunk (``base_model``, fc removed) with the unit positions of its 8 blocks."""

    def __init__(self, image_size: int = 224):
        super().__init__()
        self.image_size = image_size
        self.base_model = resnet18(weights=None)
        self.base_model.fc = nn.Identity()
        self.unit_positions = nn.Module()
        for block, dims in block_dims(image_size).items():
            self.unit_positions.register_buffer(buffer_name(block), torch.zeros(int(np.prod(dims)), 2))

    @property
    def positioned_layers(self) -> dict[str, torch.Tensor]:
        """{module name: (units, 2) positions in mm} of the blocks whose outputs are TDANN's units."""
        return {f"base_model.{block}": getattr(self.unit_positions, buffer_name(block)) for block in BLOCKS}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d average-pooled features (TDANN has no classifier: it was trained with SimCLR)."""
        return self.base_model(x)


def build_tdann(image_size: int = 224) -> TDANN:
    if image_size < 32:
        raise ValueError(f"image_size {image_size} leaves layer4 without a spatial position; use 32 or more")
    return TDANN(image_size)
