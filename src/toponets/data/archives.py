"""Safe, atomic extraction of tar and zip archives.

An archive is unpacked into a temporary directory beside the target and
renamed into place only when complete, so a failed or interrupted run never
leaves a half-filled target. A marker file inside the target records which
archive it came from; a rerun with the same archive skips the work. Members
that would land outside the target (absolute paths, `..`, links pointing out)
are refused.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toponets.data.sources import DataSourceError, sha256sum

MARKER = ".toponets-extracted.json"


class ArchiveError(DataSourceError):
    """An archive cannot be extracted safely (bad format, unsafe member, target in the way)."""


@contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory beside `target`; rename it onto `target` only on success.

    `target` must not exist yet: an existing directory is never replaced silently.
    """
    target = Path(target)
    if target.exists():
        raise ArchiveError(f"{target} already exists; remove it to rebuild it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extract(archive: str | os.PathLike, target: str | os.PathLike, sha256: str | None = None) -> Path:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip `archive` into the directory `target`; return `target`.

    With `sha256`, the archive is verified first. A target that holds a completed
    extraction of the same archive is reused as is.
    """
    archive, target = Path(archive), Path(target)
    stamp = {"archive": archive.name, "bytes": archive.stat().st_size}
    if sha256:
        stamp["sha256"] = sha256.lower()
    if _stamp(target) == stamp:
        return target
    if target.exists():
        raise ArchiveError(
            f"{target} exists but is not a completed extraction of {archive}; remove it and rerun"
        )
    if sha256 and (actual := sha256sum(archive)) != stamp["sha256"]:
        raise ArchiveError(f"{archive} has sha256 {actual}, expected {sha256}; fetch a good copy")
    with atomic_dir(target) as tmp:
        try:
            _unpack(archive, tmp)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
            raise ArchiveError(f"{archive} is corrupt or truncated ({e}); fetch a good copy") from e
        (tmp / MARKER).write_text(json.dumps(stamp))
    return target


def _unpack(archive: Path, root: Path) -> None:
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            try:
                tar.extractall(root, filter="data")
            except tarfile.FilterError as e:
                raise ArchiveError(f"{archive} has an unsafe member, refusing to extract it: {e}") from e
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _check_zip_members(zf, root, archive)
            zf.extractall(root)
    else:
        raise ArchiveError(f"{archive} is neither a tar nor a zip archive")


def _stamp(target: Path) -> dict | None:
    try:
        return json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _check_zip_members(zf: zipfile.ZipFile, root: Path, archive: Path) -> None:
    """Refuse zip members whose path would escape `root` (zipfile would silently rewrite them)."""
    root = root.resolve()
    for name in zf.namelist():
        if Path(name).is_absolute() or not (root / name).resolve().is_relative_to(root):
            raise ArchiveError(f"{archive} has an unsafe member {name!r} (outside the target); refusing to extract it")
