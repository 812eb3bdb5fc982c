"""Labelled stimulus images for the selectivity maps (METHODS §4.2-4.3), and the contrasts between them.

Every function takes an *extracted* directory (the workflow unpacks the
mirror's tars with `toponets.data.archives.extract`):

- fLoc (VPNL/fLoc, Stigliani et al. 2015): ``<category>/<category>-<n>.jpg``,
  10 categories of 144 images plus ``scrambled``, which is dropped. Labels
  are ``floc/<category>``. The five domains (faces, bodies, places,
  characters, objects) are each contrasted with all other non-scrambled
  categories, as in TDANN's ``fLocResponses``.
- Konkle animacy x size (Long, Yu & Konkle 2018, from Konkle & Caramazza
  2013): ``<condition>/<class>/<file>.png``, 4 conditions of 30 greyscale
  images. Labels are ``animacy-size/<condition>``. Animacy = animals vs
  objects; size = big vs small, each pooled over the other factor.
- Konkle real-world size (Konkle & Oliva 2011 line of work):
  ``<BigObjects|SmallObjects>/<file>.jpg``, 200 + 200 colour photos of
  objects. Labels are ``realworld-size/<condition>``; contrast
  ``size_objects`` = big vs small objects.

Which set measures real-world size: ``size`` (the one compared with
animacy, and the one in the figure) comes from the animacy x size set,
because that is the 2 x 2 design of Konkle & Caramazza 2013, the study the
paper cites: both maps come from the same images, and big vs small is
balanced over animals and objects, so the size map is not an animacy map in
disguise. The larger real-world-size set (objects only, in colour) gives an
extra ``size_objects`` contrast when its directory is given; it checks that
the size map holds with 400 other images.

Images are read with PIL and converted to RGB (greyscale repeated to 3
channels), then go through the evaluation transform the other vision
analyses use (`toponets.data.images.eval_transform`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .images import eval_transform


@dataclass(frozen=True)
class Stimulus:
    path: Path
    label: str


@dataclass(frozen=True)
class Contrast:
    """Selectivity for the `on` labels against the `off` labels."""

    name: str
    on: tuple[str, ...]
    off: tuple[str, ...]


FLOC_DOMAINS: dict[str, tuple[str, ...]] = {
    "faces": ("adult", "child"),
    "bodies": ("body", "limb"),
    "places": ("house", "corridor"),
    "characters": ("word", "number"),
    "objects": ("car", "instrument"),
}
FLOC_CATEGORIES = tuple(category for domain in FLOC_DOMAINS.values() for category in domain)  # scrambled left out
ANIMACY_SIZE_CONDITIONS = ("BigAnimals", "SmallAnimals", "BigObjects", "SmallObjects")
REALWORLD_SIZE_CONDITIONS = ("BigObjects", "SmallObjects")

_FLOC_NAME = re.compile(r"(?P<category>[a-z]+)-(?P<n>\d+)\.jpg")


def _label(dataset: str, condition: str) -> str:
    return f"{dataset}/{condition}"


def _spread(items: list, limit: int | None) -> list:
    """`limit` items spread evenly over `items` (all of them without a limit), so a small sample
    still covers the sorted list from end to end (e.g. every Konkle class folder)."""
    if limit is None or limit >= len(items):
        return items
    if limit < 1:
        raise ValueError(f"need at least one image per category, got a limit of {limit}")
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def _folder(root: Path, name: str, what: str) -> Path:
    folder = root / name
    if not folder.is_dir():
        raise FileNotFoundError(f"{what}: {folder} is missing; point the option at the extracted stimulus archive")
    return folder


def floc_stimuli(root: str | Path, max_per_category: int | None = None) -> list[Stimulus]:
    """The non-scrambled fLoc images under `root`, category by category, in image-number order."""
    root = Path(root)
    stimuli = []
    for category in FLOC_CATEGORIES:
        folder = _folder(root, category, "fLoc")
        numbered = []
        for path in folder.iterdir():
            match = _FLOC_NAME.fullmatch(path.name)
            if not match or match["category"] != category:
                raise ValueError(f"fLoc: unexpected file {path}; expected {category}/{category}-<n>.jpg")
            numbered.append((int(match["n"]), path))
        if not numbered:
            raise ValueError(f"fLoc: {folder} holds no images")
        paths = [path for _, path in sorted(numbered)]
        stimuli += [Stimulus(path, _label("floc", category)) for path in _spread(paths, max_per_category)]
    return stimuli


def _condition_images(root: Path, conditions: tuple[str, ...], dataset: str, pattern: str, limit: int | None):
    stimuli = []
    for condition in conditions:
        folder = _folder(root, condition, dataset)
        paths = sorted(path for path in folder.glob(pattern) if path.is_file())
        if not paths:
            raise ValueError(f"{dataset}: {folder} holds no {pattern} images")
        stimuli += [Stimulus(path, _label(dataset, condition)) for path in _spread(paths, limit)]
    return stimuli


def animacy_size_stimuli(root: str | Path, max_per_category: int | None = None) -> list[Stimulus]:
    """The Konkle animacy x size images under `root` (``<condition>/<class>/<file>.png``)."""
    return _condition_images(Path(root), ANIMACY_SIZE_CONDITIONS, "animacy-size", "*/*.png", max_per_category)


def realworld_size_stimuli(root: str | Path, max_per_category: int | None = None) -> list[Stimulus]:
    """The Konkle real-world-size object photos under `root` (``<BigObjects|SmallObjects>/<file>.jpg``)."""
    return _condition_images(Path(root), REALWORLD_SIZE_CONDITIONS, "realworld-size", "*.jpg", max_per_category)


def floc_contrasts() -> list[Contrast]:
    """Each fLoc domain against all other non-scrambled categories."""
    return [
        Contrast(
            name,
            tuple(_label("floc", c) for c in on),
            tuple(_label("floc", c) for c in FLOC_CATEGORIES if c not in on),
        )
        for name, on in FLOC_DOMAINS.items()
    ]


def animacy_size_contrasts() -> list[Contrast]:
    """Animacy (animals vs objects) and real-world size (big vs small), each pooled over the other factor."""
    big = tuple(_label("animacy-size", c) for c in ("BigAnimals", "BigObjects"))
    small = tuple(_label("animacy-size", c) for c in ("SmallAnimals", "SmallObjects"))
    animals = tuple(_label("animacy-size", c) for c in ("BigAnimals", "SmallAnimals"))
    objects = tuple(_label("animacy-size", c) for c in ("BigObjects", "SmallObjects"))
    return [Contrast("animacy", animals, objects), Contrast("size", big, small)]


def realworld_size_contrasts() -> list[Contrast]:
    """Big vs small objects of the real-world-size set."""
    return [Contrast("size_objects", (_label("realworld-size", "BigObjects"),), (_label("realworld-size", "SmallObjects"),))]


def selectivity_stimuli(
    floc: str | Path,
    animacy_size: str | Path,
    realworld_size: str | Path | None = None,
    max_per_category: int | None = None,
) -> tuple[list[Stimulus], list[Contrast]]:
    """All stimuli of the selectivity maps and their contrasts; the real-world-size set is optional."""
    stimuli = floc_stimuli(floc, max_per_category) + animacy_size_stimuli(animacy_size, max_per_category)
    contrasts = floc_contrasts() + animacy_size_contrasts()
    if realworld_size is not None:
        stimuli += realworld_size_stimuli(realworld_size, max_per_category)
        contrasts += realworld_size_contrasts()
    return stimuli, contrasts


class StimulusImages(Dataset):
    """(image tensor, index) pairs of `stimuli`, in order, through the evaluation transform at `res`."""

    def __init__(self, stimuli: list[Stimulus], res: int):
        self.stimuli = list(stimuli)
        self.transform = eval_transform(res)

    def __len__(self) -> int:
        return len(self.stimuli)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.stimuli[index].path) as image:
            return self.transform(image.convert("RGB")), index
