"""Shared test helpers: the repository root, the data mirror, a tiny checkpoint and image folder, and
running a copy of the workflow."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toponets.checkpoints import save_checkpoint
from toponets.data.sources import mirror_dir
from toponets.models import build, topographic_layers

REPO = Path(__file__).resolve().parents[1]


def mirror_path() -> Path:
    """The data mirror, absolute: $TOPONETS_MIRROR (a relative one is taken from where pytest started, the
    README's command gives ../shared/data from the checkout), else ../shared/data beside the checkout."""
    return mirror_dir() or REPO.parent / "shared" / "data"


def mirror_file(relative: str) -> Path:
    """A file of the data mirror, or skip the test when it is not there."""
    path = mirror_path() / relative
    if not path.is_file():
        pytest.skip(f"no {path}; set TOPONETS_MIRROR to the shared/data mirror")
    return path


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The data mirror, or skip the test when there is none."""
    path = mirror_path()
    if not (path / "MANIFEST.tsv").exists():
        pytest.skip(f"no data mirror at {path}; set TOPONETS_MIRROR")
    return path


TINY_RESNET = {"width_multiplier": 0.25, "small_stem": True}


def tiny_checkpoint(path, classes: int = 3, tau: float = 1.0):
    """Save an untrained quarter-width ResNet-18 with `classes` outputs at `path`; return the model."""
    options = {**TINY_RESNET, "num_classes": classes}
    model = build("resnet18", **options)
    layers = topographic_layers(model, "resnet18")
    save_checkpoint(path, model, "resnet18", options, topographic_layers=layers, factor=3.0, tau=tau, step=0,
                    config={"name": "tiny", "tau": tau, "seed": 0})
    return model


def tiny_image_folder(root, classes: int = 3, per_class: int = 3):
    """An ImageFolder of random 24x20 PNGs: `classes` folders of `per_class` images."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.png")
    return root


WORKFLOW_FILES = ["Snakefile", "config.yaml", "config", "rules", "schemas", "envs", "profiles", "report", "src"]


def snakemake(workdir, *args, check=True, mirror=None):
    """Run Snakemake on the workflow copy `workdir` with the data mirror (or `mirror`, a path for
    $TOPONETS_MIRROR); fail with its output unless `check` is off."""
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(workdir), *args]
    env = {**os.environ, "TOPONETS_MIRROR": str(mirror or mirror_path())}
    result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    table = output.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def copy_workflow(root):
    """A copy of the workflow's files at `root`, so that runs and simulated edits never touch this checkout."""
    root.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / name)
    return root


def dry_run_jobs(output: str) -> list[dict[str, str]]:
    """The jobs of a dry run's output (with -p): each job's rule, input, output, reason, wildcards and shell command."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", output):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not rule:
            continue
        job = {"rule": rule[1], "input": "", "output": "", "reason": "", "wildcards": "", "shell": ""}
        for key in ("input", "output", "reason", "wildcards"):
            value = re.search(rf"^    {key}: (.*)$", block, re.M)
            job[key] = value[1] if value else ""
        shell = re.search(r"^Shell command: (.*)$", block, re.M)
        job["shell"] = shell[1] if shell else ""
        jobs.append(job)
    return jobs
