"""Shared test helpers: the repository root, the data mirror, a tiny checkpoint and image folder."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toponets.checkpoints import save_checkpoint
from toponets.models import build, topographic_layers

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


TINY_RESNET = {"width_multiplier": 0.25, "small_stem": True}


def tiny_checkpoint(path, classes: int = 3, tau: float = 1.0):
    """Save an untrained quarter-width ResNet-18 with `classes` outputs at `path`; return the model."""
    options = {**TINY_RESNET, "num_classes": classes}
    model = build("resnet18", **options)
    layers = topographic_layers(model, "resnet18")
    save_checkpoint(path, model, "resnet18", options, topographic_layers=layers, factor=3.0, tau=tau, step=0)
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
