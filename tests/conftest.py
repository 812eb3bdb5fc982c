"""Shared test fixtures: the repository root and the local data mirror."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mirror_path() -> Path:
    """The data mirror: $TOPONETS_MIRROR, else ../shared/data beside the checkout."""
    return Path(os.environ.get("TOPONETS_MIRROR") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The data mirror, or skip the test when there is none."""
    path = mirror_path()
    if not (path / "MANIFEST.tsv").exists():
        pytest.skip(f"no data mirror at {path}; set TOPONETS_MIRROR")
    return path
