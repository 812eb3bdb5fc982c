"""The environment files pin what pyproject.toml pins: they copy its versions by hand, so a test compares.

Each package pinned in envs/*.yaml (pip section) and envs/*-requirements.txt must have pyproject's version,
except the pins an environment holds apart on purpose (DIFFERENT_ON_PURPOSE, with the reason).
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from conftest import REPO

ENVS = REPO / "envs"

# env file -> packages it pins to other versions than pyproject, on purpose
DIFFERENT_ON_PURPOSE = {
    # brainscore-core 2.5.0 requires numpy<2, pandas<3 and scikit-learn<1.6 (ENVIRONMENT.md)
    "brainscore.yaml": {"numpy", "pandas", "scikit-learn"},
    "brainscore-requirements.txt": {"numpy", "pandas", "scikit-learn"},
}


def normalised(name: str) -> str:
    """A package name as pip compares them (PEP 503): case and runs of -, _ and . do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    """package -> version of the `name==version` requirement lines (comments and blanks skipped)."""
    found = {}
    for line in lines:
        requirement = line.split("#")[0].strip()
        if requirement:
            name, sep, version = requirement.partition("==")
            assert sep, f"{requirement!r} is not pinned with =="
            found[normalised(name.strip())] = version.strip()
    return found


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return pins([*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)])


def env_pins(path) -> dict[str, str]:
    if path.suffix == ".txt":
        return pins(path.read_text().splitlines())
    dependencies = yaml.safe_load(path.read_text())["dependencies"]
    return pins(next(d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d))


ENV_FILES = sorted([*ENVS.glob("*.yaml"), *ENVS.glob("*-requirements.txt")])


@pytest.mark.parametrize("path", ENV_FILES, ids=[p.name for p in ENV_FILES])
def test_env_pins_are_pyprojects(path):
    ours, apart = pyproject_pins(), DIFFERENT_ON_PURPOSE.get(path.name, set())
    pinned = env_pins(path)
    differ = {name: (version, ours[name]) for name, version in pinned.items()
              if name in ours and name not in apart and version != ours[name]}
    assert not differ, f"{path.name} pins (env, pyproject): {differ}"
    assert apart <= set(pinned), f"{path.name} no longer pins {sorted(apart - set(pinned))}: drop them here"


def test_the_main_env_has_every_library_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(pins(project["dependencies"])) <= set(env_pins(ENVS / "torch.yaml"))


def test_the_brainscore_env_and_its_requirements_agree():
    assert env_pins(ENVS / "brainscore.yaml") == env_pins(ENVS / "brainscore-requirements.txt")
