from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from omicsd.blobs import _files, open_store
from omicsd.blobs.local import LocalObjectStore, file_uri
from omicsd.errors import NotFoundError, ValidationError


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "buckets")


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def test_open_store_defaults_to_local(tmp_path: Path) -> None:
    assert isinstance(open_store(root=tmp_path), LocalObjectStore)


def test_round_trip_and_etag(store: LocalObjectStore) -> None:
    info = store.put_bytes("s3://bucket/dir/hello.txt", b"hello")
    assert info.uri == "s3://bucket/dir/hello.txt" and info.size == 5
    assert info.etag == _etag(b"hello")
    assert info.last_modified.tzinfo is not None
    assert (store.root / "bucket" / "dir" / "hello.txt").read_bytes() == b"hello"
    assert store.get_bytes("s3://bucket/dir/hello.txt") == b"hello"
    assert store.head("s3://bucket/dir/hello.txt") == info
    assert store.exists("s3://bucket/dir/hello.txt") and store.exists("s3://bucket/dir/")
    assert store.put_bytes("s3://bucket/empty", b"").etag == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_etag_of_files_written_outside_the_store(store: LocalObjectStore) -> None:
    path = store.root / "bucket" / "external.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * 3_000_000)
    assert store.head("s3://bucket/external.bin").etag == _etag(b"x" * 3_000_000)
    path.write_bytes(b"changed")
    assert store.head("s3://bucket/external.bin").etag == _etag(b"changed"), "the cache notices changes"


def test_etag_is_reused_from_the_xattr_across_processes(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_bytes("s3://bucket/big", b"data")
    try:
        os.getxattr(store.root / "bucket" / "big", "user.omicsd.etag")
    except OSError:
        pytest.skip("this file system has no user extended attributes")
    expected = _etag(b"data")
    monkeypatch.setattr(_files, "_cache", type(_files._cache)())
    monkeypatch.setattr(_files.hashlib, "md5", None)
    assert store.head("s3://bucket/big").etag == expected


def test_missing_objects_and_buckets(store: LocalObjectStore) -> None:
    with pytest.raises(NotFoundError, match="s3://nobucket/k"):
        store.get_bytes("s3://nobucket/k")
    store.put_bytes("s3://bucket/a", b"1")
    with pytest.raises(NotFoundError, match="s3://bucket/missing"):
        store.head("s3://bucket/missing")
    with pytest.raises(NotFoundError):
        list(store.list("s3://nobucket/"))
    assert not store.exists("s3://bucket/missing") and not store.exists("s3://nobucket/x/")
    store.delete("s3://bucket/missing")


def test_list_is_a_sorted_string_prefix_match(store: LocalObjectStore) -> None:
    for key in ["data/file1", "data/fig/x", "data/g", "data.txt", "other/z", "data/f/y"]:
        store.put_bytes(f"s3://bucket/{key}", key.encode())
    assert [i.uri for i in store.list("s3://bucket/data/fi")] == ["s3://bucket/data/fig/x", "s3://bucket/data/file1"]
    assert [i.uri for i in store.list("s3://bucket/data")] == [
        "s3://bucket/data.txt",
        "s3://bucket/data/f/y",
        "s3://bucket/data/fig/x",
        "s3://bucket/data/file1",
        "s3://bucket/data/g",
    ]
    assert len(list(store.list("s3://bucket"))) == 6
    assert all(i.etag == _etag(i.uri.removeprefix("s3://bucket/").encode()) for i in store.list("s3://bucket/"))


def test_atomic_writes_leave_no_partial_files(store: LocalObjectStore) -> None:
    store.put_bytes("s3://bucket/k", b"old")
    original = _files.HashingWriter.write

    def failing(self: _files.HashingWriter, data: bytes) -> None:
        original(self, data[:2])
        raise OSError("disk full")

    _files.HashingWriter.write = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="disk full"):
            store.put_bytes("s3://bucket/k", b"new content")
    finally:
        _files.HashingWriter.write = original  # type: ignore[method-assign]
    assert store.get_bytes("s3://bucket/k") == b"old"
    assert sorted(os.listdir(store.root / "bucket")) == ["k"]


def test_concurrent_readers_see_old_or_new_content(store: LocalObjectStore) -> None:
    old, new = b"a" * 1_000_000, b"b" * 1_000_000
    store.put_bytes("s3://bucket/k", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = store.get_bytes("s3://bucket/k")
            seen.add(data[:1] + data[-1:])

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(20):
        store.put_bytes("s3://bucket/k", new)
        store.put_bytes("s3://bucket/k", old)
    stop.set()
    reader.join()
    assert seen <= {b"aa", b"bb"}


def test_download_file_copies_by_default(store: LocalObjectStore, tmp_path: Path) -> None:
    store.put_bytes("s3://bucket/in.txt", b"input")
    dest = store.download("s3://bucket/in.txt", tmp_path / "task" / "in.txt")
    assert dest.read_bytes() == b"input"
    dest.write_bytes(b"modified by task")
    assert store.get_bytes("s3://bucket/in.txt") == b"input"


def test_download_with_link_shares_the_inode(store: LocalObjectStore, tmp_path: Path) -> None:
    store.put_bytes("s3://bucket/in.txt", b"input")
    dest = store.download("s3://bucket/in.txt", tmp_path / "in.txt", link=True)
    assert dest.stat().st_ino == (store.root / "bucket" / "in.txt").stat().st_ino


def test_directory_download_and_upload(store: LocalObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"A")
    (src / "sub" / "b.txt").write_bytes(b"B")
    infos = store.upload(src, "s3://bucket/run/out/")
    assert [i.uri for i in infos] == ["s3://bucket/run/out/a.txt", "s3://bucket/run/out/sub/b.txt"]
    assert infos[1].etag == _etag(b"B")
    dest = store.download("s3://bucket/run/out/", tmp_path / "copy")
    assert (dest / "a.txt").read_bytes() == b"A" and (dest / "sub" / "b.txt").read_bytes() == b"B"
    with pytest.raises(NotFoundError):
        store.download("s3://bucket/nothing/", tmp_path / "none")


def test_upload_a_file_to_a_prefix_keeps_its_name(store: LocalObjectStore, tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("<html/>")
    [info] = store.upload(tmp_path / "report.html", "s3://bucket/out/")
    assert info.uri == "s3://bucket/out/report.html"
    [info] = store.upload(tmp_path / "report.html", "s3://bucket/renamed.html", link=True)
    assert store.get_bytes(info.uri) == b"<html/>" and info.etag == _etag(b"<html/>")
    with pytest.raises(NotFoundError):
        store.upload(tmp_path / "missing", "s3://bucket/x")


def test_delete_and_prefix_delete_prune_directories(store: LocalObjectStore) -> None:
    store.put_bytes("s3://bucket/a/b/c", b"1")
    store.put_bytes("s3://bucket/a/d", b"2")
    store.delete("s3://bucket/a/b/c")
    assert not (store.root / "bucket" / "a" / "b").exists()
    store.delete("s3://bucket/a/")
    assert list(store.list("s3://bucket/")) == []
    assert (store.root / "bucket").is_dir()


def test_copy_keeps_the_etag(store: LocalObjectStore) -> None:
    src = store.put_bytes("s3://bucket/src", b"payload")
    dst = store.copy("s3://bucket/src", "s3://other-bucket/dst")
    assert dst.etag == src.etag and store.get_bytes("s3://other-bucket/dst") == b"payload"


def test_file_uris(store: LocalObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "data dir" / "x.txt"
    uri = file_uri(str(path))
    assert uri.endswith("/data%20dir/x.txt")
    store.put_bytes(uri, b"local")
    assert path.read_bytes() == b"local"
    assert store.head(uri).etag == _etag(b"local")
    assert [i.uri for i in store.list(file_uri(str(tmp_path)) + "/")] == [uri]
    assert store.local_path(uri) == path
    assert store.get_bytes(f"file://{path}") == b"local"


def test_local_path(store: LocalObjectStore) -> None:
    store.put_bytes("s3://bucket/p/k", b"1")
    assert store.local_path("s3://bucket/p/k") == store.root / "bucket" / "p" / "k"
    assert store.local_path("s3://bucket/p/") == store.root / "bucket" / "p"
    assert store.local_path("s3://bucket/none") is None


def test_keys_that_cannot_live_on_a_file_system(store: LocalObjectStore) -> None:
    for uri in ["s3://bucket/a//b", "s3://bucket/./a", "s3://bucket/a/../b"]:
        with pytest.raises(ValidationError):
            store.put_bytes(uri, b"x")
    store.put_bytes("s3://bucket/a/b", b"x")
    with pytest.raises(ValidationError, match="both an object and a prefix"):
        store.put_bytes("s3://bucket/a", b"y")
    with pytest.raises(ValidationError):
        store.put_bytes("s3://bucket/a/b/c", b"z")


def test_temporary_files_are_not_listed(store: LocalObjectStore) -> None:
    store.put_bytes("s3://bucket/k", b"1")
    (store.root / "bucket" / f"{_files.TEMP_PREFIX}abc").write_bytes(b"partial")
    assert [i.uri for i in store.list("s3://bucket/")] == ["s3://bucket/k"]
