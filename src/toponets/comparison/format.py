"""How the comparison writes this run's values: 3 significant digits (losses and parameter counts 4 where an
item says), counts as 16.4k / 3.324M, a per-tau series as "resnet18 tau 0 / 1 / 5: 0.328 / 0.320 / 0.342"."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from ..experiments import tau_label


def num(x: float, digits: int = 3) -> str:
    """`x` to `digits` significant digits, trailing zeros kept (0.320); large values as integers."""
    x = float(x)
    if not math.isfinite(x):
        return "nan"
    if x == 0:
        return "0"
    if abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    text = f"{x:#.{digits}g}"
    return f"{x:.0f}" if "e" in text else text.rstrip(".")


def signed(x: float, digits: int = 3) -> str:
    return ("+" if x > 0 else "") + num(x, digits)


def count(n: float, digits: int = 3) -> str:
    """A parameter or token count: 16.4k, 3.324M, 10.0B."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return num(n / size, digits) + suffix
    return f"{n:.0f}"


def series(label: str, runs: pd.DataFrame, value: str = "value", fmt: Callable[[float], str] = num) -> str:
    """'label tau 0 / 1: a / b' over the rows of `runs` (one per tau), ordered by tau; a value of several seeds
    (`per_run`'s `spread` column) is 'mean ± half its seed range'."""
    runs = runs.sort_values("tau")
    taus = " / ".join(tau_label(t) for t in runs.tau)
    spreads = runs["spread"] if "spread" in runs and value == "value" else [float("nan")] * len(runs)
    values = [fmt(v) + (f" ± {num(d, 2)}" if d == d else "") for v, d in zip(runs[value], spreads)]
    return f"{label} tau {taus}: " + " / ".join(values)
