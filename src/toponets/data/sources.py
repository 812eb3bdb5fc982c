"""Dataset sources: a user path, or a checksummed download that a mirror can serve offline.

A source is a dict from the YAML config, one of

    {path: <local file or directory>, sha256 or md5: <optional, files only>}
    {url: <optional>, sha256 or md5: <exactly one>, filename: <optional>, mirror_path: <optional>}

`filename` defaults to the last part of the URL (or of `mirror_path`);
`mirror_path` is the file's path inside a mirror directory and defaults to
`filename`. The mirror directory is the `mirror` argument, else the
environment variable TOPONETS_MIRROR. `fetch` prefers a verified copy already
in the destination, then the mirror, then the URL, so reruns and offline
machines never download.
"""

from __future__ import annotations

import hashlib
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
    """The mirror directory: the argument, else $TOPONETS_MIRROR, else None."""
    mirror = mirror or os.environ.get(MIRROR_ENV)
    return Path(mirror).expanduser() if mirror else None


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
        return dest
    mirror = mirror_dir(mirror)
    if mirror is not None:
        candidate = mirror / source.get("mirror_path", name)
        if candidate.is_file():
            _verify(candidate, expected, source, mirror)
            with atomic_path(dest) as tmp:
                # a copy, not a hard link: a link shares the mirror file's mtime, which Snakemake may touch,
                # making every other workflow that uses the mirror see an updated input and rerun
                shutil.copyfile(candidate, tmp)
            return dest
    if source.get("url"):
        _download(source["url"], dest, expected, source, mirror)
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
        except (urllib.error.URLError, OSError) as e:
            raise DataSourceError(f"downloading {url} failed ({e}). {_how_to(source, mirror)}") from e
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
