"""Which device a job computes on, and how its tensors get there."""

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


def to_device(tensor: torch.Tensor, device: torch.device, **kwargs) -> torch.Tensor:
    """`tensor` on `device`; to CUDA from page-locked (pinned) memory with a non-blocking copy, so the
    host goes on queueing work while it is copied."""
    if device.type == "cuda" and not tensor.is_pinned():
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True, **kwargs)
