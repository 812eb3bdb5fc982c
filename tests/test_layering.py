"""The library's layers point one way: what two layers share lives in the layer below both.

Read from the sources' imports (toponets.code_deps, without importing them), every import counts,
module level or inside a function. A module inside the package that a rule forbids may import it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toponets.code_deps import imported_names

SRC = Path(__file__).resolve().parents[1] / "src"

# (modules, the package they may not import, why)
RULES = [
    ("toponets.analysis", "toponets.train", "analyses share computations with training through a module below both"),
    ("toponets.figures", "toponets.tables", "figures read tidy tables; shared reshapes live in toponets.tidy"),
    ("toponets.figures", "toponets.comparison", "the comparison reads the figures' tables, not the reverse"),
    ("toponets.comparison", "toponets.figures", "the comparison computes from tidy tables (toponets.tidy)"),
    ("toponets", "snakemake", "the library runs without the workflow engine"),
    ("toponets", "toponets.cli", "entry points sit on top: nothing in the library imports them"),
]


def within(name: str, package: str) -> bool:
    """Whether module `name` is `package` or inside it."""
    return name == package or name.startswith(package + ".")


def library_modules() -> dict[str, Path]:
    """Every module of the toponets package, by name."""
    modules = {}
    for path in sorted((SRC / "toponets").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_the_scan_sees_every_layer():
    names = library_modules()
    for package in ("toponets.analysis", "toponets.train", "toponets.figures", "toponets.cli", "toponets.tidy"):
        assert any(within(name, package) for name in names), package


@pytest.mark.parametrize("modules, forbidden, why", RULES, ids=[f"{m} -/-> {f}" for m, f, _ in RULES])
def test_layer_rule(modules, forbidden, why):
    broken = sorted(
        f"{name} imports {target}"
        for name, path in library_modules().items()
        if within(name, modules) and not within(name, forbidden)
        for target in imported_names(name, path)
        if within(target, forbidden)
    )
    assert not broken, f"{why}: {broken}"
