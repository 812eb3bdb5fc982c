"""Data sources (user path, mirror, HTTP download) and safe, atomic archive extraction."""

import csv
import errno
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from conftest import mirror_file
from toponets.data.archives import MARKER, ArchiveError, extract
from toponets.data.sources import (
    MIRROR_ENV,
    DataSourceError,
    fetch,
    forget_stale_downloads,
    missing_mirror,
    mirror_dir,
    sha256sum,
)

PAYLOAD = b"topographic networks\n" * 1000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
UNREACHABLE = "http://127.0.0.1:1/payload.bin"  # fetch must never get this far


def real_mirror() -> Path:
    return mirror_file("MANIFEST.tsv").parent


def leftovers(directory: Path) -> list[str]:
    """Half-written files (atomic_path's temporaries)."""
    return [p.name for p in directory.iterdir() if p.name.endswith(".part")]


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "payload.bin").write_bytes(PAYLOAD)
    return root


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local HTTP server on an ephemeral port serving tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "payload.bin").write_bytes(PAYLOAD)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_user_path(tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(PAYLOAD)
    assert fetch({"path": str(f)}, tmp_path / "dest") == f
    assert fetch({"path": str(f), "sha256": PAYLOAD_SHA}, tmp_path / "dest") == f
    assert fetch({"path": str(tmp_path)}, tmp_path / "dest") == tmp_path  # directories are fine too
    assert fetch({"path": str(f), "md5": PAYLOAD_MD5.upper()}, tmp_path / "dest") == f
    with pytest.raises(DataSourceError, match="expected 0+"):
        fetch({"path": str(f), "sha256": "0" * 64}, tmp_path / "dest")
    with pytest.raises(DataSourceError, match=f"has md5 {PAYLOAD_MD5}, expected 0+; .*fix `md5:`"):
        fetch({"path": str(f), "md5": "0" * 32}, tmp_path / "dest")
    with pytest.raises(DataSourceError, match="does not exist.*path:"):
        fetch({"path": str(tmp_path / "missing")}, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_bad_source_descriptions(tmp_path):
    with pytest.raises(DataSourceError, match="no `sha256:` or `md5:`"):
        fetch({"url": UNREACHABLE}, tmp_path)
    with pytest.raises(DataSourceError, match="unknown keys.*'sha1'"):
        fetch({"url": UNREACHABLE, "sha1": "x", "sha256": PAYLOAD_SHA}, tmp_path)
    with pytest.raises(DataSourceError, match="gives sha256 and md5; give only one checksum"):
        fetch({"url": UNREACHABLE, "md5": PAYLOAD_MD5, "sha256": PAYLOAD_SHA}, tmp_path)
    with pytest.raises(DataSourceError, match="no `url:`.*set `path:`.*TOPONETS_MIRROR"):
        fetch({"sha256": PAYLOAD_SHA, "filename": "payload.bin"}, tmp_path / "dest", mirror=tmp_path)


def test_mirror_then_cache(tmp_path, mirror, monkeypatch):
    source = {"url": UNREACHABLE, "sha256": PAYLOAD_SHA, "mirror_path": "sub/payload.bin"}
    dest = tmp_path / "dest"
    got = fetch(source, dest, mirror=mirror)
    assert got == dest / "payload.bin" and got.read_bytes() == PAYLOAD
    assert leftovers(dest) == []
    # the environment variable names the mirror when no argument does
    got.unlink()
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    assert fetch(source, dest).read_bytes() == PAYLOAD
    # a verified copy already in dest is reused: no mirror and no network needed
    monkeypatch.delenv(MIRROR_ENV)
    (mirror / "sub" / "payload.bin").unlink()
    assert fetch(source, dest) == got


def test_corrupt_mirror_file(tmp_path, mirror):
    (mirror / "sub" / "payload.bin").write_bytes(PAYLOAD[:-1])
    source = {"url": UNREACHABLE, "sha256": PAYLOAD_SHA, "mirror_path": "sub/payload.bin"}
    with pytest.raises(DataSourceError) as error:
        fetch(source, tmp_path / "dest", mirror=mirror)
    message = str(error.value)
    for part in ("payload.bin is corrupt", PAYLOAD_SHA, sha256sum(mirror / "sub" / "payload.bin"), "path:", MIRROR_ENV):
        assert part in message
    assert not (tmp_path / "dest" / "payload.bin").exists()


def test_real_mirror_file_and_zip_extraction(tmp_path):
    mirror = real_mirror()
    with open(mirror / "MANIFEST.tsv", newline="") as f:
        manifest = {row["path"]: row for row in csv.DictReader(f, delimiter="\t")}
    source = {
        "url": "https://github.com/alexwarstadt/blimp/raw/master/BLiMP.zip",
        "sha256": manifest["blimp/BLiMP.zip"]["sha256"],
        "mirror_path": "blimp/BLiMP.zip",
    }
    got = fetch(source, tmp_path / "blimp", mirror=mirror)
    assert got.name == "BLiMP.zip" and got.stat().st_size == int(manifest["blimp/BLiMP.zip"]["bytes"])
    target = extract(got, tmp_path / "blimp" / "extracted", sha256=source["sha256"])
    assert len(list((target / "data").glob("*.jsonl"))) == 67


def test_download(tmp_path, server):
    source = {"url": f"{server}/payload.bin", "sha256": PAYLOAD_SHA}
    got = fetch(source, tmp_path / "dest", mirror=tmp_path / "empty-mirror")
    assert got == tmp_path / "dest" / "payload.bin" and got.read_bytes() == PAYLOAD
    assert leftovers(tmp_path / "dest") == []


def test_download_md5(tmp_path, server):
    """A source may give the md5 its publisher lists instead of a sha256 (e.g. the official Tiny-ImageNet zip)."""
    dest = tmp_path / "dest"
    with pytest.raises(DataSourceError, match=f"has md5 {PAYLOAD_MD5}, expected {'1' * 32}.*nothing was kept"):
        fetch({"url": f"{server}/payload.bin", "md5": "1" * 32}, dest)
    assert list(dest.iterdir()) == []
    source = {"url": f"{server}/payload.bin", "md5": PAYLOAD_MD5}
    got = fetch(source, dest)
    assert got == dest / "payload.bin" and got.read_bytes() == PAYLOAD and leftovers(dest) == []
    # the verified copy is reused (the URL is not asked again), and a corrupt one is replaced
    assert fetch({**source, "url": UNREACHABLE, "filename": "payload.bin"}, dest) == got
    got.write_bytes(b"corrupt")
    assert fetch(source, dest).read_bytes() == PAYLOAD


def test_mirror_md5(tmp_path, mirror):
    source = {"url": UNREACHABLE, "md5": PAYLOAD_MD5, "mirror_path": "sub/payload.bin"}
    assert fetch(source, tmp_path / "dest", mirror=mirror).read_bytes() == PAYLOAD
    (mirror / "sub" / "payload.bin").write_bytes(PAYLOAD[:-1])
    with pytest.raises(DataSourceError, match=f"payload.bin is corrupt: md5 {hashlib.md5(PAYLOAD[:-1]).hexdigest()}"):
        fetch(source, tmp_path / "other", mirror=mirror)


def test_download_checksum_mismatch_keeps_nothing(tmp_path, server):
    dest = tmp_path / "dest"
    with pytest.raises(DataSourceError, match=f"expected {'1' * 64}.*nothing was kept"):
        fetch({"url": f"{server}/payload.bin", "sha256": "1" * 64}, dest)
    assert list(dest.iterdir()) == []
    with pytest.raises(DataSourceError, match="404"):
        fetch({"url": f"{server}/missing.bin", "sha256": PAYLOAD_SHA}, dest)
    assert list(dest.iterdir()) == []


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_tar_once(tmp_path):
    archive = make_tar(tmp_path / "a.tar", {"top/a.txt": b"a", "top/sub/b.txt": b"b"})
    target = extract(archive, tmp_path / "out")
    assert (target / "top" / "sub" / "b.txt").read_bytes() == b"b" and (target / MARKER).is_file()
    # a rerun with the same archive keeps the completed extraction as is
    (target / "top" / "a.txt").write_bytes(b"kept")
    assert extract(archive, tmp_path / "out") == target
    assert (target / "top" / "a.txt").read_bytes() == b"kept"
    # another archive does not silently replace it
    other = make_tar(tmp_path / "b.tar", {"c.txt": b"c"})
    with pytest.raises(ArchiveError, match="not a completed extraction"):
        extract(other, target)


def test_extract_refuses_escaping_members(tmp_path):
    archive = make_tar(tmp_path / "evil.tar", {"ok.txt": b"ok", "../evil.txt": b"evil"})
    with pytest.raises(ArchiveError, match="unsafe member"):
        extract(archive, tmp_path / "out" / "target")
    zipped = tmp_path / "evil.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("ok.txt", "ok")
        zf.writestr("../evil.txt", "evil")
    with pytest.raises(ArchiveError, match="unsafe member '../evil.txt'"):
        extract(zipped, tmp_path / "out" / "target")
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert list((tmp_path / "out").iterdir()) == []  # no target, no temporary directory


def test_failed_extraction_leaves_nothing(tmp_path):
    archive = make_tar(tmp_path / "full.tar", {"a.bin": os.urandom(4096), "b.bin": os.urandom(65536)})
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[:20000])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        extract(truncated, tmp_path / "out" / "target")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(ArchiveError, match="sha256"):
        extract(archive, tmp_path / "out" / "target", sha256="2" * 64)
    assert list((tmp_path / "out").iterdir()) == []


def test_relative_mirror_is_resolved_where_it_is_read(tmp_path, mirror, monkeypatch):
    """A relative $TOPONETS_MIRROR (the README's ../shared/data) means the same from any later directory."""
    monkeypatch.chdir(mirror.parent)
    monkeypatch.setenv(MIRROR_ENV, "mirror")
    resolved = mirror_dir()
    assert resolved == mirror and resolved.is_absolute()
    assert missing_mirror() is None
    monkeypatch.setenv(MIRROR_ENV, "no/such/mirror")
    assert missing_mirror() == (f"${MIRROR_ENV}: directory {mirror.parent / 'no/such/mirror'} does not exist; point it "
                                "at a data mirror (such as ../shared/data), or leave it unset (mirror: null) to "
                                "download from the sources' URLs")


def test_full_disk_is_said_plainly_and_keeps_nothing(tmp_path, mirror, monkeypatch):
    def full(src, dst):
        Path(dst).write_bytes(PAYLOAD[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("toponets.data.sources.shutil.copyfile", full)
    source = {"sha256": PAYLOAD_SHA, "mirror_path": "sub/payload.bin"}
    with pytest.raises(DataSourceError, match=r"copying .*payload.bin to .*payload.bin failed: the disk holding "
                                              r".*dest is full \(\d+ MB free\); nothing was kept"):
        fetch(source, tmp_path / "dest", mirror=mirror)
    assert list((tmp_path / "dest").iterdir()) == []


def test_a_download_damaged_after_its_fetch_is_fetched_again(tmp_path, mirror):
    source = {"sha256": PAYLOAD_SHA, "mirror_path": "sub/payload.bin"}
    root = tmp_path / "downloads"
    path = fetch(source, root / "data", mirror=mirror)
    sources = {"data": [source], "user": [{"path": str(tmp_path)}]}
    assert forget_stale_downloads(sources, root) == []  # size and mtime as recorded: no checksum needed
    with open(path, "r+b") as f:
        f.truncate(100)
    assert forget_stale_downloads(sources, root, dry_run=True)[0].endswith("; it would be fetched again")
    assert path.exists()
    found = forget_stale_downloads(sources, root)
    assert len(found) == 1 and found[0].startswith(f"{path} changed after it was fetched (sha256 ")
    assert found[0].endswith("; deleted, to be fetched again")
    assert not path.exists()
    assert fetch(source, root / "data", mirror=mirror).read_bytes() == PAYLOAD


def test_a_touched_but_intact_download_is_kept(tmp_path, mirror):
    source = {"sha256": PAYLOAD_SHA, "mirror_path": "sub/payload.bin"}
    root = tmp_path / "downloads"
    path = fetch(source, root / "data", mirror=mirror)
    os.utime(path, (1, 1))
    assert forget_stale_downloads({"data": [source]}, root) == []  # the checksum still matches
    assert path.read_bytes() == PAYLOAD
