"""Build the ImageFolder dataset directory (`train/<class>/*`, `val/<class>/*`) the image runs read.

Two sources: the Tiny-ImageNet-200 tar of the data mirror (already in
ImageFolder layout; selected members are extracted) or a user's ILSVRC-2012
directory in ImageFolder layout (images are symlinked, not copied). Optional
caps keep the first `classes` classes and the first `train_per_class` /
`val_per_class` images of each, in sorted order, so small presets are
deterministic and their class indices match the full set's. The output
directory appears atomically, with a `dataset.json` summary.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path, PurePosixPath

from toponets.data.archives import atomic_dir
from toponets.data.sources import DataSourceError

SPLITS = ("train", "val")
WNID = re.compile(r"n\d{8}")
SUMMARY = "dataset.json"
# torchvision's ImageFolder extensions (checked in the tests); importing torchvision here would cost seconds
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_LAYOUT = (
    "expected the (ILSVRC-2012) ImageFolder layout <root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG "
    "with the same classes in both"
)

# {split: {class: [file names]}}
Index = dict[str, dict[str, list[str]]]


def from_tiny_imagenet(
    tar: str | os.PathLike,
    out: str | os.PathLike,
    *,
    classes: int | None = None,
    train_per_class: int | None = None,
    val_per_class: int | None = None,
) -> dict:
    """Extract (a capped subset of) the Tiny-ImageNet-200 tar into `out`; return the summary."""
    tar = Path(tar)
    with atomic_dir(out) as tmp, tarfile.open(tar) as tf:
        members = {m.name: m for m in tf.getmembers() if m.isfile()}
        index: Index = {split: {} for split in SPLITS}
        for name in members:
            parts = PurePosixPath(name).parts
            if len(parts) == 3 and parts[0] in SPLITS and _is_image(parts[2]):
                index[parts[0]].setdefault(parts[1], []).append(parts[2])
        chosen = _select(_validated(index, tar), classes, train_per_class, val_per_class)
        wanted = [members[f"{s}/{c}/{f}"] for s in SPLITS for c, files in chosen[s].items() for f in files]
        tf.extractall(tmp, members=wanted, filter="data")
        return _write_summary(tmp, chosen, "tiny-imagenet-200", tar, classes, train_per_class, val_per_class)


def from_imagenet_dir(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    classes: int | None = None,
    train_per_class: int | None = None,
    val_per_class: int | None = None,
) -> dict:
    """Symlink (a capped subset of) an ILSVRC-2012 ImageFolder directory into `out`; return the summary."""
    root = Path(root).expanduser().resolve()
    with atomic_dir(out) as tmp:
        chosen = _select(_validated(_scan_imagenet(root), root), classes, train_per_class, val_per_class)
        for split, by_class in chosen.items():
            for cls, files in by_class.items():
                (tmp / split / cls).mkdir(parents=True)
                for f in files:
                    os.symlink(root / split / cls / f, tmp / split / cls / f)
        return _write_summary(tmp, chosen, "imagenet", root, classes, train_per_class, val_per_class)


def _scan_imagenet(root: Path) -> Index:
    """List the images of an ILSVRC-2012 ImageFolder directory, with clear errors for other layouts."""
    index: Index = {}
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            raise DataSourceError(f"{root} has no {split}/ directory; {IMAGENET_LAYOUT}")
        loose = [p.name for p in split_dir.iterdir() if p.is_file() and _is_image(p.name)]
        if loose:
            raise DataSourceError(
                f"{split_dir} holds images directly (e.g. {loose[0]}), not in class folders; "
                f"sort them into {split}/<wnid>/ first; {IMAGENET_LAYOUT}"
            )
        index[split] = {
            d.name: [f.name for f in os.scandir(d) if _is_image(f.name)] for d in os.scandir(split_dir) if d.is_dir()
        }
        odd = sorted(c for c in index[split] if not WNID.fullmatch(c))
        if odd:
            raise DataSourceError(f"{split_dir} has folders that are not WordNet ids: {odd[:5]}; {IMAGENET_LAYOUT}")
    return index


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


def _validated(index: Index, where: Path) -> Index:
    """Check both splits exist, share their classes and have no empty class; return `index`."""
    train, val = (set(index[s]) for s in SPLITS)
    if not train or not val:
        raise DataSourceError(f"{where} lacks class folders under train/ or val/; {IMAGENET_LAYOUT}")
    if train != val:
        raise DataSourceError(
            f"{where}: train/ and val/ have different classes "
            f"(only in train: {sorted(train - val)[:5]}, only in val: {sorted(val - train)[:5]}); {IMAGENET_LAYOUT}"
        )
    empty = sorted(f"{s}/{c}" for s in SPLITS for c, files in index[s].items() if not files)
    if empty:
        raise DataSourceError(f"{where} has class folders without images: {empty[:5]}; {IMAGENET_LAYOUT}")
    return index


def _select(index: Index, classes: int | None, train_per_class: int | None, val_per_class: int | None) -> Index:
    """The first `classes` classes and first images per class, all in sorted order."""
    for name, value in (("classes", classes), ("train_per_class", train_per_class), ("val_per_class", val_per_class)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (or None for all), got {value}")
    kept = sorted(index["train"])[:classes]
    caps = {"train": train_per_class, "val": val_per_class}
    return {s: {c: sorted(index[s][c])[: caps[s]] for c in kept} for s in SPLITS}


def _write_summary(tmp: Path, chosen: Index, kind: str, source: Path, classes, train_per_class, val_per_class) -> dict:
    summary = {
        "source": {"kind": kind, "path": str(source)},
        "selection": {"classes": classes, "train_per_class": train_per_class, "val_per_class": val_per_class},
        "classes": list(chosen["train"]),
        "counts": {s: sum(map(len, chosen[s].values())) for s in SPLITS},
    }
    (tmp / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
    return summary
