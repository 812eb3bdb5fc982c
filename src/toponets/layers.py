"""Looking up a model's layers by name, with errors that say what exists."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from torch import nn


def layers_by_name(model: nn.Module, names: Iterable[str], purpose: str) -> list[nn.Module]:
    """The modules of `model` called `names`, in that order; `purpose` names the caller in errors."""
    modules = dict(model.named_modules())
    names = list(names)
    if not names:
        raise ValueError(f"{purpose}: no layers given")
    missing = [name for name in names if name not in modules]
    if missing:
        close = {name: difflib.get_close_matches(name, list(modules), n=3) for name in missing}
        hints = "; ".join(f"'{n}' (did you mean {c}?)" if c else f"'{n}'" for n, c in close.items())
        raise KeyError(f"{purpose}: the model has no layer named {hints}")
    return [modules[name] for name in names]
