"""The library files an entry point runs, found by reading the sources' imports (never importing them).

The workflow lists them as each job's code inputs, so that editing a module reruns exactly the jobs
whose entry points import it (Snakemake compares the inputs' checksums, so a checkout that changes no
content reruns nothing). Every `import` and `from ... import`, absolute or relative, at module level or
inside a function, counts, as does `importlib.import_module("toponets...")` with a constant name, and
so do the `__init__.py` of every package on the way. An import whose name is computed (a registry
such as the figures' or the model builders') is not followed: the workflow names those modules itself.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path


def module_file(name: str, root: Path) -> Path | None:
    """The source file of module `name` under `root` (the directory holding the top package), or None."""
    base = root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _package(name: str, path: Path) -> str:
    """The package a module's relative imports start from: itself for a package's __init__.py."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _resolve(name: str, level: int, package: str) -> str:
    """The absolute name of `from <level dots><name> import ...` in `package`."""
    if not level:
        return name
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _constant_import_module(node: ast.Call) -> str | None:
    """The module name of `importlib.import_module("...")` / `import_module("...")` with a constant name."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value if isinstance(node.args[0].value, str) else None
    return None


@cache
def imported_names(name: str, path: Path) -> frozenset[str]:
    """Every absolute module name that the file `path` of module `name` may import, whatever the package."""
    package = _package(name, path)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", node.level, package)
            names.add(base)  # `from pkg import sub` imports module pkg.sub when sub is one
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and (target := _constant_import_module(node)):
            names.add(_resolve(target.lstrip("."), len(target) - len(target.lstrip(".")), package))
    return frozenset(names)


def closure(entries: list[str] | tuple[str, ...], root: Path, top: str = "toponets") -> list[Path]:
    """The files of the `top` package's modules that the modules `entries` import, directly or not,
    with themselves and every package __init__.py on the way, sorted."""
    root = Path(root)
    seen: dict[str, Path] = {}
    todo = list(entries)
    for entry in entries:
        if module_file(entry, root) is None:
            raise ValueError(f"no module {entry} under {root}")
    while todo:
        name = todo.pop()
        parts = name.split(".")
        if parts[0] != top or name in seen:
            continue
        path = module_file(name, root)
        if path is None:  # a function or class imported from a module, or a module of another package
            continue
        seen[name] = path
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # the packages' __init__.py run first
        todo += imported_names(name, path)
    return sorted(set(seen.values()))


def assigned_literal(path: Path, variable: str):
    """The literal value assigned to module-level `variable` in `path` (a registry read without importing
    its module, e.g. the figure registry of cli/figure.py, which imports pandas)."""
    for node in ast.parse(Path(path).read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == variable for t in targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path} assigns no {variable}")
