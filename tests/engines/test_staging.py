import errno
import hashlib
import json
import os
from pathlib import Path

import pytest

from omicsd.blobs import open_store
from omicsd.engines._staging import (
    InputStager,
    LocalDirectory,
    LocalFile,
    StagingFailed,
    check_input_uri,
    export_outputs,
)


@pytest.fixture
def store(tmp_path):
    return open_store(root=tmp_path / "buckets")


def put(store, uri, data):
    store.put_bytes(uri, data)
    return f"etag:{hashlib.md5(data).hexdigest()}"


@pytest.mark.parametrize(
    ("uri", "directory", "expected"),
    [
        ("s3://bucket/key.txt", False, "s3://bucket/key.txt"),
        ("s3://bucket/dir/", True, "s3://bucket/dir/"),
        ("s3://bucket/dir", True, "s3://bucket/dir/"),
        ("file:///data/x.txt", False, "file:///data/x.txt"),
    ],
)
def test_check_input_uri_accepts(uri, directory, expected):
    assert check_input_uri(uri, directory=directory) == expected


@pytest.mark.parametrize(
    ("uri", "directory"),
    [
        ("/etc/passwd", False),
        ("relative/path.txt", False),
        ("https://example.com/x", False),
        ("omics://123.storage.us-east-1.amazonaws.com/1/readSet/2", False),
        ("s3://bucket", False),
        ("s3://bucket/", True),
        ("s3://Bad_Bucket/key", False),
        ("s3://bucket/a//b", False),
        ("s3://bucket/dir/", False),
        ("file://host/x", False),
    ],
)
def test_check_input_uri_rejects(uri, directory):
    with pytest.raises(StagingFailed) as info:
        check_input_uri(uri, directory=directory)
    assert info.value.failure_reason == "INVALID_URI_INPUT"
    assert uri in info.value.message or "bucket" in info.value.message.lower()


def test_stage_file_records_etag_and_dedupes(store, tmp_path):
    digest = put(store, "s3://inputs/a/reads.fq", b"@r1\nACGT\n")
    stager = InputStager(store, tmp_path / "inputs")
    path = stager.stage("s3://inputs/a/reads.fq")
    assert Path(path).read_bytes() == b"@r1\nACGT\n"
    assert Path(path).name == "reads.fq" and Path(path).is_relative_to(tmp_path / "inputs")
    assert stager.stage("s3://inputs/a/reads.fq") == path
    assert stager.resource_digests == {"s3://inputs/a/reads.fq": digest}


def test_same_basename_from_two_uris_does_not_collide(store, tmp_path):
    put(store, "s3://inputs/a/x.txt", b"a")
    put(store, "s3://inputs/b/x.txt", b"b")
    stager = InputStager(store, tmp_path / "inputs")
    first, second = stager.stage("s3://inputs/a/x.txt"), stager.stage("s3://inputs/b/x.txt")
    assert first != second
    assert (Path(first).read_text(), Path(second).read_text()) == ("a", "b")


def test_stage_directory(store, tmp_path):
    put(store, "s3://inputs/refs/a.fa", b">a\n")
    put(store, "s3://inputs/refs/sub/b.fa", b">b\n")
    stager = InputStager(store, tmp_path / "inputs")
    path = Path(stager.stage("s3://inputs/refs/", directory=True))
    assert path.name == "refs"
    assert (path / "a.fa").read_text() == ">a\n" and (path / "sub" / "b.fa").read_text() == ">b\n"
    digest = stager.resource_digests["s3://inputs/refs/"]
    assert digest.startswith("etag:") and digest.endswith("-2")


def test_stage_file_uri(tmp_path, store):
    source = tmp_path / "local.txt"
    source.write_text("local data")
    stager = InputStager(store, tmp_path / "inputs")
    path = stager.stage(f"file://{source}")
    assert Path(path).read_text() == "local data"
    assert stager.resource_digests[f"file://{source}"] == f"etag:{hashlib.md5(b'local data').hexdigest()}"


@pytest.mark.parametrize(("uri", "directory"), [("s3://inputs/none.txt", False), ("s3://inputs/empty/", True)])
def test_missing_input(store, tmp_path, uri, directory):
    put(store, "s3://inputs/other.txt", b"x")
    stager = InputStager(store, tmp_path / "inputs")
    with pytest.raises(StagingFailed) as info:
        stager.stage(uri, directory=directory)
    assert info.value.failure_reason == "INPUT_URI_NOT_FOUND"
    assert uri in info.value.message


def test_export_layout_and_outputs_json(store, tmp_path):
    work = tmp_path / "work"
    (work / "d" / "sub").mkdir(parents=True)
    for name, text in {"a.txt": "A", "b.txt": "B", "c.txt": "C", "d/one": "1", "d/sub/two": "2"}.items():
        (work / name).write_text(text)
    outputs = {
        "single": LocalFile(str(work / "a.txt")),
        "many": [LocalFile(str(work / "b.txt")), LocalFile(str(work / "c.txt"))],
        "nested": [[LocalFile(str(work / "a.txt"))], []],
        "table": {"k": LocalFile(str(work / "b.txt"))},
        "folder": LocalDirectory(str(work / "d")),
        "count": 3,
        "label": "text",
        "nothing": None,
    }
    base = "s3://out/runs/1234567"
    summary, uri = export_outputs(store, base, "wf", outputs)
    assert uri == f"{base}/logs/outputs.json"
    assert summary == {
        "wf.single": f"{base}/out/single/a.txt",
        "wf.many": [f"{base}/out/many/0/b.txt", f"{base}/out/many/1/c.txt"],
        "wf.nested": [[f"{base}/out/nested/0/0/a.txt"], []],
        "wf.table": {"k": f"{base}/out/table/k/b.txt"},
        "wf.folder": f"{base}/out/folder/d/",
        "wf.count": 3,
        "wf.label": "text",
        "wf.nothing": None,
    }
    assert json.loads(store.get_bytes(uri)) == summary
    assert store.get_bytes(f"{base}/out/many/1/c.txt") == b"C"
    assert store.get_bytes(f"{base}/out/folder/d/sub/two") == b"2"


def test_export_failure(store, tmp_path):
    with pytest.raises(StagingFailed) as info:
        export_outputs(store, "s3://out/run", "wf", {"gone": LocalFile(str(tmp_path / "missing.txt"))})
    assert info.value.failure_reason == "EXPORT_FAILED"
    assert not store.exists("s3://out/run/logs/outputs.json")


def test_exported_files_share_the_task_files_content_without_a_copy(store, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("A")
    summary, _ = export_outputs(store, "s3://out/run", "wf", {"single": LocalFile(str(work / "a.txt"))})
    exported = store.root / "out" / "run" / "out" / "single" / "a.txt"
    assert exported.stat().st_ino == (work / "a.txt").stat().st_ino, "same file system: a hard link"
    assert sorted(p.name for p in exported.parent.iterdir()) == ["a.txt"], "no temporary name left behind"
    assert store.head(summary["wf.single"]).etag == '"7fc56270e7a70fa81a5935b72eacbe29"'


def test_export_copies_when_a_link_cannot_be_made(store, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("A")

    def cross_device(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    export_outputs(store, "s3://out/run", "wf", {"single": LocalFile(str(work / "a.txt"))})
    exported = store.root / "out" / "run" / "out" / "single" / "a.txt"
    assert exported.read_text() == "A" and exported.stat().st_ino != (work / "a.txt").stat().st_ino
    assert sorted(p.name for p in exported.parent.iterdir()) == ["a.txt"]
