"""Language-model stimuli and performance: fixed token windows, validation loss, the downsampling curve.

Stimuli for the response analyses (smoothness, effective dimensionality) and
the windows of the validation loss are drawn the same way: a split's token
stream is cut into consecutive, non-overlapping slots of `length` tokens and a
seeded random choice of n of them is kept, in corpus order. The windows are
therefore the same at every call, spread over the whole split (not only its
start) and never share a token, as the vision analyses use a fixed random
subset of the validation images.

The loss of a window of length + 1 tokens predicts its last `length` tokens
from the ones before, in float32 (no autocast) so that pruned or downsampled
copies are compared without rounding noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.text import TokenShards
from ..next_token import next_token_loss
from .downsampling import downsample_model, parameter_count

WINDOW_SEED = 0


def window_starts(tokens: int, n: int | None, length: int, seed: int = WINDOW_SEED) -> np.ndarray:
    """Sorted starts of `n` distinct slots of `length` tokens among the ⌊tokens / length⌋ of a stream.

    `n` None takes every slot. The choice depends only on (tokens, n, length, seed).
    """
    if length < 1:
        raise ValueError(f"window length must be at least 1 token, got {length}")
    slots = tokens // length
    if n is None:
        n = slots
    if n < 1 or n > slots:
        raise ValueError(
            f"cannot take {n} non-overlapping windows of {length} tokens from a split of {tokens} tokens "
            f"(room for {slots}); ask for between 1 and {slots} windows, or shorter ones"
        )
    chosen = np.random.default_rng(seed).choice(slots, size=n, replace=False)
    return np.sort(chosen).astype(np.int64) * length


def token_windows(shards: TokenShards, n: int | None, length: int, seed: int = WINDOW_SEED) -> torch.Tensor:
    """(n, length) int64 tokens of `shards`: n seeded-random, non-overlapping windows in corpus order."""
    starts = window_starts(len(shards), n, length, seed)
    return torch.from_numpy(np.stack([shards.window(int(s), length) for s in starts]).astype(np.int64))


def text_batches(windows: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, ...]:
    """Consecutive (≤ batch_size, length) slices of `windows`: token batches as `stream_activations` takes them.

    A tuple, so it can be iterated again (like a DataLoader).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    return windows.split(batch_size)


def windows_loss(model: nn.Module, windows: torch.Tensor, batch_size: int, device: str | torch.device) -> float:
    """Mean next-token cross-entropy of `model` over every window's tokens 1: given its tokens :-1.

    `model` is moved to `device` and run in eval mode without gradients; its
    training flag is restored afterwards.
    """
    if windows.dim() != 2 or windows.shape[1] < 2:
        raise ValueError(f"expected (windows, length + 1 >= 2) tokens, got shape {tuple(windows.shape)}")
    device = torch.device(device)
    was_training = model.training
    model.to(device).eval()
    total = 0.0
    try:
        with torch.no_grad():
            for batch in text_batches(windows, batch_size):
                loss = next_token_loss(model, batch[:, :-1], batch[:, 1:], device, amp=False)
                total += loss.item() * len(batch)  # every window has as many targets: a window mean is a token mean
    finally:
        model.train(was_training)
    return total / len(windows)


def loss_metric(
    shards: TokenShards, n_windows: int | None, length: int, batch_size: int, device: str | torch.device,
    seed: int = WINDOW_SEED,
) -> Callable[[nn.Module], float]:
    """model -> its validation loss on fixed windows of `shards`, read once (for pruning and downsampling curves).

    `length` is the context each prediction sees: windows hold length + 1 tokens.
    """
    windows = token_windows(shards, n_windows, length + 1, seed)
    return lambda model: windows_loss(model, windows, batch_size, device)


@dataclass(frozen=True)
class LMLoss:
    val_loss: float  # mean next-token cross-entropy, nats
    perplexity: float  # exp(val_loss)
    n_windows: int
    length: int


def lm_loss(
    model: nn.Module, shards: TokenShards, n_windows: int | None, length: int, batch_size: int,
    device: str | torch.device, seed: int = WINDOW_SEED,
) -> LMLoss:
    """Validation loss and perplexity of `model` on `n_windows` fixed windows (None: all) of `length` + 1 tokens."""
    windows = token_windows(shards, n_windows, length + 1, seed)
    loss = windows_loss(model, windows, batch_size, device)
    return LMLoss(val_loss=loss, perplexity=math.exp(loss), n_windows=len(windows), length=length)


def context_length(model: nn.Module) -> int | None:
    """The longest token sequence `model` takes: NanoGPT's block_size or GPT-Neo's max_position_embeddings."""
    config = getattr(model, "config", None)
    return getattr(config, "block_size", None) or getattr(config, "max_position_embeddings", None)


@dataclass(frozen=True)
class DownsamplingPoint:
    """One metric of the model downsampled by `factor`; change = value - the original model's value."""

    factor: float
    parameters: int
    parameters_kept: float  # parameters / the original model's parameters
    metric: str
    value: float
    change: float


def downsampling_curve(
    model: nn.Module, layers: Iterable[str], metrics: Mapping[str, Callable[[nn.Module], float]],
    factors: Iterable[float],
) -> list[DownsamplingPoint]:
    """Every metric of `model` with `layers` downsampled by each of `factors` (METHODS §9.2), factor-major.

    The original model is measured once and stands for a factor of 1; each
    other factor's copy is built once and measured on all `metrics`.
    """
    layers, factors = list(layers), [float(f) for f in factors]
    if not factors or not metrics:
        raise ValueError(f"need at least one factor and one metric, got factors {factors} and metrics {list(metrics)}")
    original = parameter_count(model)
    baseline = {name: float(metric(model)) for name, metric in metrics.items()}
    points = []
    for factor in factors:
        smaller = model if factor == 1.0 else downsample_model(model, layers, factor)
        parameters = parameter_count(smaller)
        for name, metric in metrics.items():
            value = baseline[name] if smaller is model else float(metric(smaller))
            points.append(
                DownsamplingPoint(factor, parameters, parameters / original, name, value, value - baseline[name])
            )
    return points
