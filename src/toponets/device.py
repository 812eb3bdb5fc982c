"""Which device a job computes on."""

from __future__ import annotations

import torch


def select_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else the CPU; anything else is passed to `torch.device`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device '{name}' was asked for but CUDA is not available here; use --device cpu or auto")
    return device
