"""Build the ImageFolder dataset directory (`train/<class>/*`, `val/<class>/*`) the image runs read.

Two sources: a Tiny-ImageNet-200 archive, either the data mirror's tar (already
in ImageFolder layout) or the official tiny-imagenet-200.zip (val labels in
val_annotations.txt), of which only the selected images are extracted; or a
user's ILSVRC-2012 directory in ImageFolder layout (images are symlinked, not
copied). Optional caps keep the first `classes` classes and the first
`train_per_class` / `val_per_class` images of each, in sorted order, so small
presets are deterministic and their class indices match the full set's. The
output directory appears atomically, with a `dataset.json` summary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

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
TINY_TOP = "tiny-imagenet-200"
TINY_ANNOTATIONS = f"{TINY_TOP}/val/val_annotations.txt"
TINY_LAYOUT = (
    "expected the mirror's Tiny-ImageNet tar (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG) or the official "
    f"{TINY_TOP}.zip ({TINY_TOP}/train/<wnid>/images/*.JPEG, {TINY_TOP}/val/images/*.JPEG, {TINY_ANNOTATIONS})"
)

# {split: {class: [file names]}}
Index = dict[str, dict[str, list[str]]]
# {(split, class, file name): archive member name}
Placement = dict[tuple[str, str, str], str]


def from_tiny_imagenet(
    archive: str | os.PathLike,
    out: str | os.PathLike,
    *,
    classes: int | None = None,
    train_per_class: int | None = None,
    val_per_class: int | None = None,
) -> dict:
    """Extract (a capped subset of) a Tiny-ImageNet-200 archive into `out`; return the summary.

    `archive` is the mirror's tar or the official zip; its member names tell which.
    """
    archive = Path(archive)
    with atomic_dir(out) as tmp, _archive_files(archive) as files:
        official = any(name.startswith(f"{TINY_TOP}/") for name in files)
        placement = _official_placement(files, archive) if official else _mirror_placement(files)
        index: Index = {split: {} for split in SPLITS}
        for split, cls, name in placement:
            index[split].setdefault(cls, []).append(name)
        chosen = _select(_validated(index, archive, TINY_LAYOUT), classes, train_per_class, val_per_class)
        wanted = {placement[s, c, f]: tmp / s / c / f for s in SPLITS for c, names in chosen[s].items() for f in names}
        for member in files:  # in archive order, so a compressed tar is read once
            if member in wanted:
                wanted[member].parent.mkdir(parents=True, exist_ok=True)
                with files[member]() as src, open(wanted[member], "wb") as dst:
                    shutil.copyfileobj(src, dst)
        return _write_summary(tmp, chosen, "tiny-imagenet-200", archive, classes, train_per_class, val_per_class)


@contextmanager
def _archive_files(path: Path) -> Iterator[dict[str, Callable[[], IO[bytes]]]]:
    """{member name: opener} for the files of a tar or zip archive, in archive order."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                yield {info.filename: partial(zf.open, info) for info in zf.infolist() if not info.is_dir()}
        else:
            with tarfile.open(path) as tf:
                yield {m.name: partial(tf.extractfile, m) for m in tf.getmembers() if m.isfile()}
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise DataSourceError(f"{path} is not a readable tar or zip archive ({e}); fetch a good copy") from e


def _mirror_placement(files: dict) -> Placement:
    """The mirror's tar: train/<wnid>/<image> and val/<wnid>/<image> at its root."""
    placement: Placement = {}
    for member in files:
        parts = PurePosixPath(member).parts
        if len(parts) == 3 and parts[0] in SPLITS and WNID.fullmatch(parts[1]) and _is_image(parts[2]):
            placement[parts] = member
    return placement


def _official_placement(files: dict, archive: Path) -> Placement:
    """The official zip: train/<wnid>/images/<image>; val/images/<image>, labelled by val_annotations.txt."""
    if TINY_ANNOTATIONS not in files:
        raise DataSourceError(f"{archive} has no {TINY_ANNOTATIONS} to label the val images; {TINY_LAYOUT}")
    with files[TINY_ANNOTATIONS]() as f:
        rows = [line.split("\t") for line in f.read().decode().splitlines()]
    labels = {row[0]: row[1] for row in rows if len(row) > 1}
    placement: Placement = {}
    for member in files:
        top, *parts = PurePosixPath(member).parts
        if top != TINY_TOP or not _is_image(member):
            continue
        if len(parts) == 4 and parts[0] == "train" and WNID.fullmatch(parts[1]) and parts[2] == "images":
            placement["train", parts[1], parts[3]] = member
        elif len(parts) == 3 and parts[:2] == ["val", "images"]:
            label = labels.get(parts[2])
            if label is None or not WNID.fullmatch(label):
                raise DataSourceError(
                    f"{archive}: {member} has no class in {TINY_ANNOTATIONS}; the archive is incomplete or corrupt, "
                    "fetch a good copy"
                )
            placement["val", label, parts[2]] = member
    return placement


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
        index = _validated(_scan_imagenet(root), root, IMAGENET_LAYOUT)
        chosen = _select(index, classes, train_per_class, val_per_class)
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


def _validated(index: Index, where: Path, layout: str) -> Index:
    """Check both splits exist, share their classes and have no empty class; return `index`."""
    train, val = (set(index[s]) for s in SPLITS)
    if not train or not val:
        raise DataSourceError(f"{where} lacks class folders under train/ or val/; {layout}")
    if train != val:
        raise DataSourceError(
            f"{where}: train/ and val/ have different classes "
            f"(only in train: {sorted(train - val)[:5]}, only in val: {sorted(val - train)[:5]}); {layout}"
        )
    empty = sorted(f"{s}/{c}" for s in SPLITS for c, files in index[s].items() if not files)
    if empty:
        raise DataSourceError(f"{where} has class folders without images: {empty[:5]}; {layout}")
    return index


def _select(index: Index, classes: int | None, train_per_class: int | None, val_per_class: int | None) -> Index:
    """The first `classes` classes and first images per class, all in sorted order."""
    for name, value in (("classes", classes), ("train_per_class", train_per_class), ("val_per_class", val_per_class)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (or None for all), got {value}")
    if classes is not None and classes > len(index["train"]):
        raise ValueError(f"classes {classes} asks more than the source's {len(index['train'])}; lower it, or null for all")
    kept = sorted(index["train"])[:classes]
    caps = {"train": train_per_class, "val": val_per_class}
    for split, cap in caps.items():
        fewest = min(kept, key=lambda c: len(index[split][c]))
        if cap is not None and len(index[split][fewest]) < cap:
            raise ValueError(
                f"{split}_per_class {cap} asks more images than the source holds: class {fewest} has "
                f"{len(index[split][fewest])} {split} images; lower {split}_per_class to at most that, or null for all"
            )
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
