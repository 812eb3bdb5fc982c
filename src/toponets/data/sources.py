"""Dataset sources: a user path, or a checksummed download that a mirror can serve offline.

A source is a dict from the YAML config, one of

    {path: <local file or directory>, sha256 or md5: <optional, files only>}
    {url: <optional>, sha256 or md5: <exactly one>, filename: <optional>, mirror_path: <optional>}

`filename` defaults to the last part of the URL (or of `mirror_path`);
`mirror_path` is the file's path inside a mirror directory and defaults to
`filename`. The mirror directory is the `mirror` argument, else the
environment variable TOPONETS_MIRROR, resolved to an absolute path where it is
read, so a relative one means the same wherever a job runs. `fetch` prefers a
verified copy already in the destination, then the mirror, then the URL, so
reruns and offline machines never download.

Each fetched file gets a record of its size and mtime beside it
(`.<name>.fetched`); `stale_download` compares a file with its record, so a
download damaged after its fetch is noticed and fetched again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from toponets.io import atomic_path

MIRROR_ENV = "TOPONETS_MIRROR"
CHUNK = 1 << 20
DIGESTS = ("sha256", "md5")  # the checksum keys a source may give, each a hashlib algorithm
PATH_KEYS = {"path", *DIGESTS}
DOWNLOAD_KEYS = {"url", "filename", "mirror_path", *DIGESTS}


class DataSourceError(RuntimeError):
    """A dataset file is missing, corrupt or described wrongly; the message says how to fix it."""


def checksum(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest (hashlib `algorithm`) of a file, read in chunks so large archives need little memory."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sum(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    return checksum(path, "sha256")


def mirror_dir(mirror: str | os.PathLike | None = None) -> Path | None:
    """The mirror directory, absolute: the argument, else $TOPONETS_MIRROR, else None.

    A relative path is taken from the current directory here, once, so that the jobs of a workflow
    (or tests running one in another directory) all see the same mirror.
    """
    mirror = mirror or os.environ.get(MIRROR_ENV)
    return Path(mirror).expanduser().absolute() if mirror else None


def missing_mirror(mirror: str | os.PathLike | None = None) -> str | None:
    """Why the configured mirror cannot be used (a path that is no directory), or None."""
    path = mirror_dir(mirror)
    if path is None or path.is_dir():
        return None
    key = "mirror" if mirror else f"${MIRROR_ENV}"
    return (f"{key}: directory {path} does not exist; point it at a data mirror (such as ../shared/data), "
            "or leave it unset (mirror: null) to download from the sources' URLs")


def filename(source: Mapping) -> str:
    """The local file name of a download source."""
    if source.get("filename"):
        return source["filename"]
    if source.get("url"):
        name = PurePosixPath(urllib.parse.urlparse(source["url"]).path).name
        if name:
            return name
    if source.get("mirror_path"):
        return PurePosixPath(source["mirror_path"]).name
    raise DataSourceError(f"source {dict(source)} names no file: give `filename:` (or a `url:` ending in one)")


def fetch(source: Mapping, dest_dir: str | os.PathLike, mirror: str | os.PathLike | None = None) -> Path:
    """Return a local, verified copy of `source`, fetching it into `dest_dir` if needed."""
    if "path" in source:
        return _user_path(source)
    _check_keys(source, DOWNLOAD_KEYS)
    expected = _expected(source)
    if expected is None:
        raise DataSourceError(
            f"download source {dict(source)} has no `sha256:` or `md5:`; add the file's checksum to the config"
        )
    name = filename(source)
    dest = Path(dest_dir) / name

    if dest.is_file() and checksum(dest, expected[0]) == expected[1]:
        _record_fetch(dest)
        return dest
    mirror = mirror_dir(mirror)
    if mirror is not None:
        candidate = mirror / source.get("mirror_path", name)
        if candidate.is_file():
            _verify(candidate, expected, source, mirror)
            try:
                with atomic_path(dest) as tmp:
                    # a copy, not a hard link: a link shares the mirror file's mtime, which Snakemake may touch,
                    # making every other workflow that uses the mirror see an updated input and rerun
                    shutil.copyfile(candidate, tmp)
            except OSError as err:
                raise DataSourceError(f"copying {candidate} to {dest} failed: {_os_problem(err, dest)}") from err
            _record_fetch(dest)
            return dest
    if source.get("url"):
        _download(source["url"], dest, expected, source, mirror)
        _record_fetch(dest)
        return dest
    where = f"the mirror {mirror}" if mirror else f"any mirror (${MIRROR_ENV} is not set)"
    raise DataSourceError(f"{name} is not in {where} and its source has no `url:`. {_how_to(source, mirror)}")


def _user_path(source: Mapping) -> Path:
    _check_keys(source, PATH_KEYS)
    path = Path(source["path"]).expanduser()
    if not path.exists():
        raise DataSourceError(f"{path} does not exist; fix `path:` in the config to point at the data")
    expected = _expected(source)
    if expected:
        algorithm, digest = expected
        if not path.is_file():
            raise DataSourceError(f"{path} is a directory, but its source gives `{algorithm}:`, which only files have")
        actual = checksum(path, algorithm)
        if actual != digest:
            raise DataSourceError(
                f"{path} has {algorithm} {actual}, expected {digest}; "
                f"replace it with a good copy or fix `{algorithm}:` in the config"
            )
    return path


def _expected(source: Mapping) -> tuple[str, str] | None:
    """The (algorithm, lower-case hex digest) a source gives, or None; at most one may be given."""
    given = [key for key in DIGESTS if source.get(key)]
    if len(given) > 1:
        raise DataSourceError(f"source {dict(source)} gives {' and '.join(given)}; give only one checksum")
    return (given[0], source[given[0]].lower()) if given else None


def _check_keys(source: Mapping, allowed: set[str]) -> None:
    unknown = set(source) - allowed
    if unknown:
        raise DataSourceError(
            f"source {dict(source)} has unknown keys {sorted(unknown)}; "
            f"a source is either {sorted(PATH_KEYS)} or {sorted(DOWNLOAD_KEYS)}"
        )


def _verify(path: Path, expected: tuple[str, str], source: Mapping, mirror: Path | None) -> None:
    algorithm, digest = expected
    actual = checksum(path, algorithm)
    if actual != digest:
        raise DataSourceError(f"{path} is corrupt: {algorithm} {actual}, expected {digest}. {_how_to(source, mirror)}")


def _download(url: str, dest: Path, expected: tuple[str, str], source: Mapping, mirror: Path | None) -> None:
    """Stream `url` into a temporary file, hashing as it goes; keep it only if the checksum matches."""
    algorithm, wanted = expected
    digest = hashlib.new(algorithm)
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except urllib.error.URLError as e:
            raise DataSourceError(f"downloading {url} failed ({e}). {_how_to(source, mirror)}") from e
        except OSError as e:
            raise DataSourceError(f"downloading {url} failed: {_os_problem(e, dest)}. {_how_to(source, mirror)}") from e
        if digest.hexdigest() != wanted:
            raise DataSourceError(
                f"download of {url} has {algorithm} {digest.hexdigest()}, expected {wanted}; "
                f"nothing was kept. {_how_to(source, mirror)}"
            )


def _how_to(source: Mapping, mirror: Path | None) -> str:
    relative = source.get("mirror_path") or filename(source)
    target = mirror / relative if mirror else f"<mirror>/{relative}"
    return (
        f"To supply it: set `path:` in the config to a local copy, or put a good copy at {target}, "
        f"or set {MIRROR_ENV} to a mirror directory that holds {relative}."
    )


def _os_problem(err: OSError, dest: Path) -> str:
    """An OS error while writing `dest`, said plainly (a full disk names the free space and what to do)."""
    if err.errno == errno.ENOSPC:
        free = shutil.disk_usage(dest.parent).free
        return (f"the disk holding {dest.parent} is full ({free / 1e6:.0f} MB free); nothing was kept. "
                "Free space there, or run the workflow in a directory on a larger disk")
    return f"{err.strerror or err} ({dest}); nothing was kept"


def _record_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.fetched")


def _record_fetch(path: Path) -> None:
    """Note the size and mtime of a verified download beside it (see `stale_download`)."""
    stat = path.stat()
    _record_path(path).write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))


def stale_download(path: str | os.PathLike, source: Mapping) -> str | None:
    """Why the fetched file `path` of `source` can no longer be trusted, or None if it can.

    A file whose size and mtime still match the record its fetch wrote is trusted as it is. Otherwise
    (changed, or fetched before records were kept) its checksum decides: a good file gets a new record.
    """
    path = Path(path)
    try:
        record = json.loads(_record_path(path).read_text())
        stat = path.stat()
        if record == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
            return None
    except (OSError, ValueError):
        pass
    algorithm, digest = _expected(source)
    actual = checksum(path, algorithm)
    if actual != digest:
        return f"{path} changed after it was fetched ({algorithm} {actual}, expected {digest})"
    _record_fetch(path)
    return None


def forget_download(path: str | os.PathLike) -> None:
    """Delete a download and its record, so that the next run fetches it again."""
    path = Path(path)
    path.unlink(missing_ok=True)
    _record_path(path).unlink(missing_ok=True)


def forget_stale_downloads(sources: Mapping[str, list], root: str | os.PathLike, dry_run: bool = False) -> list[str]:
    """Check each fetched download under `root` (<root>/<dataset>/<file>) with `stale_download` and delete the
    damaged ones (unless `dry_run`), so that the workflow fetches them again; return what was found."""
    found = []
    for dataset, dataset_sources in sources.items():
        for source in dataset_sources:
            if "path" in source or _expected(source) is None:
                continue
            path = Path(root) / dataset / filename(source)
            problem = path.is_file() and stale_download(path, source)
            if problem:
                if not dry_run:
                    forget_download(path)
                found.append(f"{problem}; {'it would be' if dry_run else 'deleted, to be'} fetched again")
    return found
