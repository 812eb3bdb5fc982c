"""L1 unstructured pruning of the topographic layers and the performance-vs-sparsity curve (METHODS §9.1).

The smallest-|w| fraction p of the weights is set to zero with
``torch.nn.utils.prune``, either in each layer separately (``scope="layer"``,
the default: every layer loses the same fraction, as downsampling shrinks
every topographic layer alike) or over all the layers pooled
(``scope="global"``). Biases and other layers are left alone. The paper says
neither which layers nor which scope; "reduce the weights by a factor n"
means p = 1 - 1/n (`fractions_for_factors`), which pairs each pruning level
with the downsampling by the same factor ("the same effective parameter
count", section 2.4).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import nn

from ..layers import layers_by_name
from torch.nn.utils import prune

SCOPES = ("layer", "global")
DEFAULT_FRACTIONS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)


def fractions_for_factors(factors: Iterable[float]) -> list[float]:
    """Section 2.4: "To reduce the number of weights by a factor of n, we prune (100 - 100/n)% of the smallest
    weights": the pruning fraction 1 - 1/n of each weight reduction n >= 1."""
    factors = [float(n) for n in factors]
    if not factors or any(n < 1 for n in factors):
        raise ValueError(f"weight reduction factors must be a non-empty list of numbers >= 1, got {factors}")
    return [1.0 - 1.0 / n for n in factors]


def factor_of_fraction(fraction: float) -> float:
    """The weight reduction n = 1 / (1 - p) that pruning fraction p makes (infinite at p = 1)."""
    return math.inf if fraction >= 1.0 else 1.0 / (1.0 - fraction)


def _weighted_modules(model: nn.Module, layers: Iterable[str]) -> list[nn.Module]:
    layers = list(layers)
    modules = layers_by_name(model, layers, "pruning")
    bare = [name for name, m in zip(layers, modules) if not isinstance(getattr(m, "weight", None), nn.Parameter)]
    if bare:
        raise TypeError(f"layer(s) {bare} have no weight parameter to prune")
    return modules


def _check(fraction: float, scope: str) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"pruning fraction must lie in [0, 1], got {fraction}")
    if scope not in SCOPES:
        raise ValueError(f"unknown pruning scope '{scope}'; choose one of {SCOPES}")


def pruned_copy(model: nn.Module, layers: Iterable[str], fraction: float, scope: str = "layer") -> nn.Module:
    """A deep copy of `model` with the smallest-|w| `fraction` of the weights of `layers` set to zero.

    Each layer loses round(fraction x its weight count) weights (``scope="layer"``),
    or round(fraction x all their weights) go where the smallest magnitudes
    are (``scope="global"``). The pruning is made permanent, so the copy is a
    plain model with ordinary weight parameters; `model` is not touched.
    """
    _check(fraction, scope)
    pruned = copy.deepcopy(model)
    modules = _weighted_modules(pruned, layers)
    if scope == "layer":
        for module in modules:
            prune.l1_unstructured(module, "weight", amount=float(fraction))
    else:
        targets = [(module, "weight") for module in modules]
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(fraction))
    for module in modules:
        prune.remove(module, "weight")
    return pruned


@dataclass(frozen=True)
class PruningPoint:
    """The metric at one pruning fraction and its change from the unpruned model (value - unpruned)."""

    fraction: float
    value: float
    change: float


def pruning_curve(
    model: nn.Module,
    layers: Iterable[str],
    metric: Callable[[nn.Module], float],
    fractions: Iterable[float] = DEFAULT_FRACTIONS,
    scope: str = "layer",
) -> list[PruningPoint]:
    """`metric` of a pruned copy of `model` at each of `fractions`, in the given order.

    The unpruned value is measured once on `model` itself and reused for a
    fraction of 0.
    """
    layers = list(layers)
    fractions = [float(f) for f in fractions]
    if not fractions:
        raise ValueError("no pruning fractions given")
    for fraction in fractions:
        _check(fraction, scope)
    _weighted_modules(model, layers)  # fail before the first, possibly long, evaluation
    baseline = float(metric(model))
    points = []
    for fraction in fractions:
        value = baseline if fraction == 0.0 else float(metric(pruned_copy(model, layers, fraction, scope)))
        points.append(PruningPoint(fraction=fraction, value=value, change=value - baseline))
    return points
