"""Code inputs derived from imports: the static closure (synthetic packages; every CLI against what Python
imports), and every job of the mini and paper presets lists the closure of the modules its command runs."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, copy_workflow, dry_run_jobs, snakemake
from toponets.cli.figure import FIGURES
from toponets.cli.tables import PRIOR_MODELS
from toponets.code_deps import assigned_literal, closure
from toponets.figure_table import FIGURES as FIGURE_TABLE
from toponets.model_spec import FAMILIES

SRC = REPO / "src"
CLIS = sorted(p.stem for p in (SRC / "toponets" / "cli").glob("*.py") if p.stem != "__init__")


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def names(paths, root):
    return sorted(str(p.relative_to(root)) for p in paths)


def test_closure_follows_relative_absolute_and_function_level_imports(tmp_path):
    root = write(tmp_path, {
        "pkg/__init__.py": "from .base import VALUE\n",
        "pkg/base.py": "import os\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/entry.py": "from .. import helper\nfrom ..sub import sibling\n"
                            "def f():\n    from ..lazy import g\n    import pkg.deep.leaf\n",
        "pkg/sub/sibling.py": "from pkg.base import os\n",
        "pkg/helper.py": "import importlib\nM = importlib.import_module('pkg.dynamic')\n",
        "pkg/lazy.py": "",
        "pkg/dynamic.py": "",
        "pkg/deep/__init__.py": "from . import other\n",
        "pkg/deep/leaf.py": "",
        "pkg/deep/other.py": "",
        "pkg/unused.py": "",
        "pkg/computed.py": "",
        "pkg/registry.py": "import importlib\nNAME = 'pkg.computed'\nimportlib.import_module(NAME)\n",
    })
    assert names(closure(["pkg.sub.entry"], root, top="pkg"), root) == [
        "pkg/__init__.py", "pkg/base.py", "pkg/deep/__init__.py", "pkg/deep/leaf.py", "pkg/deep/other.py",
        "pkg/dynamic.py", "pkg/helper.py", "pkg/lazy.py", "pkg/sub/__init__.py", "pkg/sub/entry.py",
        "pkg/sub/sibling.py",
    ]
    # a computed name is not followed; an unknown entry is an error
    assert names(closure(["pkg.registry"], root, top="pkg"), root) == ["pkg/__init__.py", "pkg/base.py", "pkg/registry.py"]
    with pytest.raises(ValueError, match="no module pkg.nothing"):
        closure(["pkg.nothing"], root, top="pkg")


def test_assigned_literal_reads_a_registry_without_importing_it(tmp_path):
    path = write(tmp_path, {"m.py": "import torch\nTABLE: dict = {'a': ('x', 1)}\nOTHER = 2\n"}) / "m.py"
    assert assigned_literal(path, "TABLE") == {"a": ("x", 1)} and assigned_literal(path, "OTHER") == 2
    with pytest.raises(ValueError):
        assigned_literal(path, "MISSING")


@pytest.mark.parametrize("cli", CLIS)
def test_static_closure_holds_every_module_python_imports(cli):
    module = f"toponets.cli.{cli}"
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('toponets')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={"PYTHONPATH": str(SRC), "PATH": ""})
    if result.returncode and "No module named" in result.stderr and "toponets" not in result.stderr.splitlines()[-1]:
        pytest.skip(f"{module} needs a package of another environment: {result.stderr.splitlines()[-1]}")
    assert result.returncode == 0, result.stderr
    imported = {(SRC / m.replace(".", "/")).with_suffix(".py") for m in eval(result.stdout)}
    imported = {p if p.exists() else p.with_suffix("") / "__init__.py" for p in imported}
    assert imported <= set(closure([module], SRC))


EXEMPT = {"fetch"}  # a download is the file itself, not computed by our code: a code edit never refetches


def entry_modules(job) -> list[str]:
    """The modules a job's command runs: each `-m toponets...`, the figure's or table kind's own module."""
    entries = re.findall(r"-m (toponets[\w.]+)", job["shell"])
    for figure in re.findall(r"-m toponets\.cli\.figure (\w+)", job["shell"]):
        entries.append(FIGURES[figure][0])
    if re.search(r"-m toponets\.cli\.tables prior-models", job["shell"]):
        entries.append(PRIOR_MODELS)
    return entries


PRESETS = {"mini": "config.yaml", "paper": "config/paper.yaml"}


@pytest.fixture(scope="module", params=PRESETS)
def planned(request, tmp_path_factory, mirror):
    """A fresh workflow copy, a preset's config and every job of its forced dry run."""
    fresh = copy_workflow(tmp_path_factory.mktemp(request.param) / "workflow")
    configfile = PRESETS[request.param]
    jobs = dry_run_jobs(snakemake(fresh, "--configfile", configfile, "-n", "--forceall", "-p").stdout)
    return fresh, yaml.safe_load((fresh / configfile).read_text()), jobs


def test_every_job_lists_the_code_its_command_runs(planned):
    fresh, _, jobs = planned
    lib = fresh / "src"
    families = {}  # experiment -> family, from the --spec of its training or import job
    for job in jobs:
        spec = re.search(r"--spec ('[^']*')", job["shell"])
        if spec:
            families[json.loads(shlex.split(spec[1])[0])["name"]] = json.loads(shlex.split(spec[1])[0])["family"]
    covered = set()
    for job in jobs:
        code = {Path(p) for p in job["input"].split(", ") if p.startswith(str(lib)) and p.endswith(".py")}
        entries = entry_modules(job)
        if not entries or job["rule"] in EXEMPT:
            assert not code, job["rule"]
            continue
        expected = set(closure(entries, lib))
        model = re.search(r"\bmodel=([\w-]+)", job["wildcards"])
        if model:  # a job of one run: its model's builder, which models.build imports by a computed name
            expected |= set(closure([f"toponets.models.{FAMILIES[families[model[1]]].module}"], lib))
        assert code == expected, (job["rule"], job["wildcards"], names(code ^ expected, lib))
        covered.add(job["rule"])
    runs_toponets = {job["rule"] for job in jobs if entry_modules(job)}
    assert runs_toponets - EXEMPT == covered and "train" in covered and "fig7" in covered


def test_every_figure_of_the_table_and_every_table_is_planned_with_its_outputs(planned):
    fresh, config, jobs = planned
    schema = yaml.safe_load((fresh / "schemas" / "config.schema.yaml").read_text())["properties"]["figures"]
    formats = config.get("figures", {}).get("formats", schema["properties"]["formats"]["default"])
    outputs = {job["rule"]: set(job["output"].split(", ")) for job in jobs}
    for name, figure in FIGURE_TABLE.items():
        assert outputs[name] == {f"results/figures/{figure.stem}.{fmt}" for fmt in formats}
    tables = {rule.removeprefix("table_") for rule in outputs if rule.startswith("table_")}
    assert all(outputs[f"table_{name}"] == {f"results/tables/{name}.csv"} for name in tables)
    assert {"training", "prior_models", "vision_metrics", "brainscore_regions", "selectivity_maps"} <= tables
