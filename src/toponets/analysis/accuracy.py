"""Top-1 accuracy of an image classifier with the ffcv recipe's flip test-time augmentation.

METHODS §11.1: validation sums the logits of each image and of its horizontal
flip before taking the arg-max.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Accuracy:
    top1: float
    n_images: int


def tta_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits of `images` plus logits of their horizontal flips."""
    return model(images) + model(torch.flip(images, dims=[-1]))


def top1_accuracy(
    model: nn.Module, batches: Iterable, device: str | torch.device = "cpu", flip_tta: bool = True
) -> Accuracy:
    """Fraction of images whose (flip-summed) arg-max logit is the label; `batches` yields (images, labels).

    `model` is moved to `device` and run in eval mode without gradients; its
    training flag is restored afterwards.
    """
    device = torch.device(device)
    was_training = model.training
    model.to(device).eval()
    correct = total = 0
    try:
        with torch.no_grad():
            for images, labels in batches:
                images, labels = images.to(device), labels.to(device)
                logits = tta_logits(model, images) if flip_tta else model(images)
                if labels.max() >= logits.shape[1]:
                    raise ValueError(f"label {labels.max().item()} is out of range for a {logits.shape[1]}-class model")
                correct += (logits.argmax(dim=1) == labels).sum().item()
                total += labels.numel()
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("no images to evaluate: the batches were empty")
    return Accuracy(top1=correct / total, n_images=total)
