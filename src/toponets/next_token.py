"""Next-token prediction, shared by language training and the language analyses (loss, LoRA, BLiMP).

A causal LM's logits and its cross-entropy, computed the same way whether the
model trains or is evaluated, and the seeded generator that draws the same
token batches for the same key (a resumed run, or a LoRA run, sees the same data).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .device import to_device


def step_generator(seed: int, *key: int) -> torch.Generator:
    """A CPU generator seeded from (seed, *key): the same key always draws the same batches."""
    state = np.random.SeedSequence([seed, *key]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def logits_of(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Next-token logits of a HF causal LM (`.logits`, no key/value cache) or of a module returning them;
    either may be in DDP."""
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    config = getattr(inner, "config", None)
    if config is not None and hasattr(config, "use_cache"):
        return model(input_ids=tokens, use_cache=False).logits
    return model(tokens)


def next_token_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, amp: bool):
    """Mean cross-entropy of predicting `y` from `x`, under bf16 autocast when `amp`."""
    x, y = to_device(x, device), to_device(y, device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        logits = logits_of(model, x)
    return F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
