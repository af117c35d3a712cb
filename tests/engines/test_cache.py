"""The engine-neutral run cache: keys, explanations, entries, the index, lookups, records and the export phase."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from omicsd.blobs.local import LocalObjectStore
from omicsd.engines._cache import (
    CACHE_ALWAYS,
    CACHE_ON_FAILURE,
    EVENT_BATCH,
    STOP_REASON_FILE,
    CachedFile,
    CacheEntry,
    CacheKey,
    CompletedTask,
    ContentDigests,
    RunCache,
    TaskResources,
    mark_timed_out,
    sha256_json,
    should_export,
    task_family,
    value_digest,
)
from omicsd.engines._cache_entries import ENTRY_VERSION
from omicsd.engines._cache_index import CacheIndex, index_uri, load_index
from omicsd.engines._cache_key import differences, similarity
from omicsd.engines.events import TaskFinished, decode, encode
from omicsd.engines.spec import CacheSpec, RunSpec
from omicsd.logs.files import LogReader
from omicsd.logs.streams import LOG_GROUP, run_cache_stream, run_stream

CACHE_UUID = "0f2c4d6e-1111-4222-8333-444455556666"
CACHE_URI = f"s3://caches/prefix/{CACHE_UUID}"


def key(**changes: object) -> CacheKey:
    base = CacheKey(
        task="call-align/align",
        engine="miniwdl 1.16.0",
        command="c" * 64,
        image="ubuntu:22.04",
        definition="d" * 64,
        inputs={"reads": "etag:0cc175b9c0f1b6a831c399e269772661", "n": value_digest(3)},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def make_spec(tmp_path: Path, run_id: str = "1111111", behavior: str = CACHE_ALWAYS, log_level: str = "ALL") -> RunSpec:
    return RunSpec(
        run_id=run_id,
        run_uuid="uuid-" + run_id,
        engine="WDL",
        workflow_name="wf",
        definition_dir=str(tmp_path / "definition"),
        main="main.wdl",
        parameters={},
        run_output_uri=f"s3://out/runs/{run_id}",
        buckets_root=str(tmp_path / "buckets"),
        logs_root=str(tmp_path / "logs"),
        capacity_dir=str(tmp_path / "capacity"),
        log_level=log_level,
        cache=CacheSpec(cache_id="7654321", cache_uri=CACHE_URI, cache_behavior=behavior),
    )


def open_cache(tmp_path: Path, **kwargs: str) -> RunCache:
    spec = make_spec(tmp_path, **kwargs)
    run_dir = tmp_path / "runs" / spec.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = RunCache.open(spec, LocalObjectStore(tmp_path / "buckets"), run_dir)
    assert cache is not None
    cache.load()
    return cache


def completed_task(
    tmp_path: Path, k: CacheKey, task_id: str = "2222222", content: bytes = b"aligned\n"
) -> CompletedTask:
    task_dir = tmp_path / "work" / task_id
    (task_dir / "work").mkdir(parents=True, exist_ok=True)
    (task_dir / "work" / "out.bam").write_bytes(content)
    return CompletedTask(
        key=k,
        task_id=task_id,
        name="call-align-0",
        work_dir=str(task_dir),
        files=(CachedFile("work/out.bam", str(task_dir / "work" / "out.bam")),),
        outputs={"bam": "work/out.bam", "count": 3},
        other_outputs={"count": 3},
        resources=TaskResources(cpus=4, memory_gib=8, gpus=0, instance_type="omics.m.xlarge", image="ubuntu:22.04"),
        time=100.0,
    )


def messages(tmp_path: Path, stream: str) -> list[str]:
    reader = LogReader(tmp_path / "logs")
    if not reader.exists(LOG_GROUP, stream):
        return []
    return [event.message for event in reader.read(LOG_GROUP, stream, limit=1000).events]


CACHE_STREAM = run_cache_stream("7654321", CACHE_UUID)


# -- keys -----------------------------------------------------------------------------------------------------


def test_key_digest_ignores_the_task_name_but_not_any_component() -> None:
    assert key().digest == key(task="call-other/align").digest
    assert len({key().digest, key(command="e" * 64).digest, key(image="ubuntu:24.04").digest}) == 3
    assert key().digest != key(inputs={"reads": "etag:ffff"}).digest
    assert CacheKey.from_dict(key().to_dict()) == key()
    with pytest.raises(ValueError):
        CacheKey.from_dict({"task": "x"})
    k = key()
    body = {"version": 1, "engine": k.engine, "command": k.command, "image": k.image, "definition": k.definition}
    assert k.digest == sha256_json({**body, "inputs": dict(k.inputs)}) == k.digest == k.to_dict()["digest"]
    assert replace(k, image="other").digest != k.digest


def test_differences_name_each_changed_component_with_short_digests() -> None:
    assert differences(key(), key()) == []
    assert differences(key(command="e" * 64), key()) == ["command differs (was cccccccc, now eeeeeeee)"]
    assert differences(key(image="ubuntu:24.04"), key()) == ["image differs (was ubuntu:22.04, now ubuntu:24.04)"]
    changed = key(inputs={**key().inputs, "reads": "etag:92eb5ffee6ae2fec3ad71c777531578f"})
    assert differences(changed, key()) == ["input 'reads' changed (etag 0cc175b9 -> 92eb5ffe)"]
    extra = key(inputs={**key().inputs, "extra": value_digest("x")})
    assert differences(extra, key()) == ["input 'extra' added"]
    assert differences(key(), extra) == ["input 'extra' removed"]
    assert similarity(key(), key()) == 6 and similarity(changed, key()) == 5


def test_task_family_drops_scatter_indices() -> None:
    assert task_family("call-align-17") == "call-align"
    assert task_family("call-x-1-3") == "call-x"
    assert task_family("call-sub-2.call-x-0") == "call-sub.call-x"
    assert task_family("call-gather") == "call-gather"


def test_content_digests_depend_on_content_not_location(tmp_path: Path) -> None:
    digests = ContentDigests(LocalObjectStore(tmp_path / "buckets"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "x.txt").write_text("same\n")
        (tmp_path / folder / "sub").mkdir()
        (tmp_path / folder / "sub" / "y.txt").write_text("y\n")
    assert digests.file(str(tmp_path / "a" / "x.txt")) == digests.file(str(tmp_path / "b" / "x.txt"))
    assert digests.file(str(tmp_path / "a" / "x.txt")) == "etag:" + hashlib.md5(b"same\n").hexdigest()
    assert digests.directory(str(tmp_path / "a")) == digests.directory(str(tmp_path / "b"))
    assert digests.directory(str(tmp_path / "a")).endswith("-2")
    (tmp_path / "b" / "sub" / "y.txt").write_text("changed\n")
    assert digests.directory(str(tmp_path / "a")) != digests.directory(str(tmp_path / "b"))


# -- export decisions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behavior", "status", "reason", "timed_out", "expected"),
    [
        (CACHE_ALWAYS, "COMPLETED", "", False, True),
        (CACHE_ALWAYS, "FAILED", "RUN_TASK_FAILED", False, True),
        (CACHE_ALWAYS, "CANCELLED", "", False, True),
        (CACHE_ON_FAILURE, "COMPLETED", "", False, False),
        (CACHE_ON_FAILURE, "FAILED", "RUN_TASK_FAILED", False, True),
        (CACHE_ON_FAILURE, "CANCELLED", "", False, True),
        (CACHE_ON_FAILURE, "FAILED", "RUN_TIMED_OUT", False, False),
        (CACHE_ALWAYS, "CANCELLED", "", True, False),
        (CACHE_ALWAYS, "FAILED", "FILE_SYSTEM_OUT_OF_SPACE", False, False),
        (CACHE_ON_FAILURE, "FAILED", "FILE_SYSTEM_OUT_OF_SPACE", False, False),
    ],
)
def test_should_export(behavior: str, status: str, reason: str, timed_out: bool, expected: bool) -> None:
    allowed, why = should_export(behavior, status, reason, timed_out=timed_out)
    assert allowed is expected
    assert bool(why) is not expected


# -- entries, index, lookups ----------------------------------------------------------------------------------


def test_export_publishes_entries_in_the_healthomics_layout(tmp_path: Path) -> None:
    cache = open_cache(tmp_path)
    cache.record(completed_task(tmp_path, key()))
    (entry,) = cache.export("COMPLETED")

    assert entry.s3uri == f"{CACHE_URI}/1111111/2222222/{entry.uuid}/"
    manifest_path = tmp_path / "buckets" / entry.manifest_uri[5:]
    manifest = json.loads(manifest_path.read_text())
    assert manifest["arn"] == f"arn:aws:omics:us-east-1:123456789012:runCache/7654321/cacheEntry/{entry.uuid}"
    assert manifest["taskArn"] == "arn:aws:omics:us-east-1:123456789012:task/2222222"
    assert manifest["s3uri"] == entry.s3uri and manifest["version"] == ENTRY_VERSION
    assert manifest["otherOutputs"] == {"count": 3}
    (cached,) = manifest["files"]
    assert cached["name"] == "work/out.bam" and cached["path"] == entry.s3uri + "work/out.bam"
    assert cached["etag"] == '"' + hashlib.md5(b"aligned\n").hexdigest() + '"'
    assert (tmp_path / "buckets" / cached["path"][5:]).read_bytes() == b"aligned\n"
    assert CacheEntry.from_manifest(manifest) == entry

    index = json.loads((tmp_path / "buckets" / index_uri(CACHE_URI, "1111111")[5:]).read_text())
    assert [m["arn"] for m in index["entries"]] == [manifest["arn"]]
    assert any("CACHE_ENTRY_CREATED run: 1111111, " in m for m in messages(tmp_path, CACHE_STREAM))
    assert (tmp_path / "runs" / "1111111" / "cache" / "completed.jsonl").read_text().count("\n") == 1


def test_a_later_run_hits_and_gets_the_files_in_its_task_directory(tmp_path: Path) -> None:
    first = open_cache(tmp_path)
    first.record(completed_task(tmp_path, key()))
    (entry,) = first.export("COMPLETED")

    second = open_cache(tmp_path, run_id="3333333")
    assert len(second.index) == 1
    task_dir = tmp_path / "second" / "call-align-0"
    hit = second.lookup(key(task="call-align/align"), "call-align-0", task_dir)
    assert hit is not None and hit.entry == entry
    assert hit.files == {"work/out.bam": task_dir / "work" / "out.bam"}
    assert (task_dir / "work" / "out.bam").read_bytes() == b"aligned\n"
    assert hit.entry.task.outputs == {"bam": "work/out.bam", "count": 3}
    assert hit.entry.task.resources.cpus == 4
    assert not any(m.startswith("CACHE_HIT run: 3333333") for m in messages(tmp_path, CACHE_STREAM))  # queued
    second.flush_log()
    assert any(m.startswith("CACHE_HIT run: 3333333, task: call-align-0") for m in messages(tmp_path, CACHE_STREAM))


def test_a_miss_explains_what_differs_from_the_nearest_entry(tmp_path: Path) -> None:
    first = open_cache(tmp_path)
    first.record(completed_task(tmp_path, key()))
    first.record(completed_task(tmp_path, key(command="e" * 64, image="other"), task_id="4444444"))
    first.export("COMPLETED")

    second = open_cache(tmp_path, run_id="3333333")
    changed = key(inputs={**key().inputs, "reads": "etag:92eb5ffee6ae2fec3ad71c777531578f"})
    assert second.lookup(changed, "call-align-0", tmp_path / "t") is None
    (line,) = messages(tmp_path, run_stream("3333333"))
    assert line.startswith("Task call-align-0: cache miss: input 'reads' changed (etag 0cc175b9 -> 92eb5ffe)")
    assert "run 1111111" in line
    second.flush_log()
    miss = [m for m in messages(tmp_path, CACHE_STREAM) if m.startswith("CACHE_MISS")]
    assert miss and miss[0].startswith("CACHE_MISS run: 3333333, task: call-align-0")

    assert second.lookup(key(task="call-new/new", command="f" * 64), "call-new", tmp_path / "u") is None
    assert messages(tmp_path, run_stream("3333333"))[-1] == "Task call-new: cache miss: no previous entry for this task"


def test_an_entry_with_a_deleted_or_changed_file_is_a_miss(tmp_path: Path) -> None:
    first = open_cache(tmp_path)
    first.record(completed_task(tmp_path, key()))
    (entry,) = first.export("COMPLETED")
    stored = tmp_path / "buckets" / entry.task.files[0].path[5:]

    stored.write_bytes(b"tampered\n")
    second = open_cache(tmp_path, run_id="3333333")
    assert second.lookup(key(), "call-align-0", tmp_path / "t1") is None
    assert "work/out.bam changed" in messages(tmp_path, run_stream("3333333"))[-1]

    stored.unlink()
    assert second.lookup(key(), "call-align-0", tmp_path / "t2") is None
    assert messages(tmp_path, run_stream("3333333"))[-1].endswith(
        f"cache miss: entry {entry.uuid} is invalid: file work/out.bam is missing"
    )
    assert not (tmp_path / "t2" / "work" / "out.bam").exists()


def test_unreadable_index_files_and_manifests_are_skipped(tmp_path: Path) -> None:
    first = open_cache(tmp_path)
    first.record(completed_task(tmp_path, key()))
    first.export("COMPLETED")
    store = LocalObjectStore(tmp_path / "buckets")
    store.put_bytes(index_uri(CACHE_URI, "9999999"), b"{not json")
    store.put_bytes(index_uri(CACHE_URI, "8888888"), json.dumps({"entries": [{"arn": "x"}]}).encode())
    assert len(load_index(store, CACHE_URI)) == 1
    assert len(load_index(store, "s3://no-such-bucket/x")) == 0


def test_index_prefers_the_newest_of_equally_near_entries(tmp_path: Path) -> None:
    def entry(task_id: str, when: float, k: CacheKey) -> CacheEntry:
        task = replace(completed_task(tmp_path, k, task_id=task_id), time=when)
        return CacheEntry(task_id, "arn", f"s3://b/{task_id}/", "", "1", task)

    old, new, far = entry("1", 1.0, key()), entry("2", 2.0, key()), entry("3", 3.0, key(command="e" * 64))
    index = CacheIndex([old, far, new])
    assert [e.task.task_id for e in index.candidates(key())] == ["2", "1"]
    assert index.nearest(key(image="x")) == new
    assert index.nearest(key(task="call-other/other")) is None
    assert len(index) == 3 and len(CacheIndex([replace(old, version=ENTRY_VERSION + 1)])) == 0


# -- behaviours of the export phase -----------------------------------------------------------------------------


def test_cache_on_failure_writes_nothing_for_a_completed_run(tmp_path: Path) -> None:
    cache = open_cache(tmp_path, behavior=CACHE_ON_FAILURE)
    cache.record(completed_task(tmp_path, key()))
    assert cache.export("COMPLETED") == []
    assert not (tmp_path / "buckets" / "caches").exists()
    assert "did not fail" in messages(tmp_path, run_stream("1111111"))[-1]
    assert len(cache.export("FAILED", "RUN_TASK_FAILED")) == 1


def test_a_timed_out_run_exports_nothing(tmp_path: Path) -> None:
    cache = open_cache(tmp_path)
    cache.record(completed_task(tmp_path, key()))
    mark_timed_out(cache.run_dir)
    assert (cache.run_dir / STOP_REASON_FILE).read_text().strip() == "RUN_TIMED_OUT"
    assert cache.export("CANCELLED") == []
    assert messages(tmp_path, run_stream("1111111"))[-1].endswith("no entries exported: the run timed out")


def test_an_entry_that_cannot_be_uploaded_is_skipped(tmp_path: Path) -> None:
    cache = open_cache(tmp_path)
    good = completed_task(tmp_path, key())
    gone = replace(
        completed_task(tmp_path, key(command="e" * 64), task_id="5555555"), files=(CachedFile("a", "/nope"),)
    )
    cache.record(gone)
    cache.record(good)
    (entry,) = cache.export("COMPLETED")
    assert entry.task.task_id == good.task_id
    assert any("cache entry not exported" in m for m in messages(tmp_path, run_stream("1111111")))


def test_log_level_off_silences_the_run_log_but_not_the_cache_log(tmp_path: Path) -> None:
    cache = open_cache(tmp_path, log_level="OFF")
    assert cache.lookup(key(), "call-align-0", tmp_path / "t") is None
    cache.export("COMPLETED")
    assert messages(tmp_path, run_stream("1111111")) == []
    assert messages(tmp_path, CACHE_STREAM)[0].startswith("CACHE_MISS run: 1111111, ")


def test_cache_stream_events_are_written_in_batches_in_order_and_all_by_the_export(tmp_path: Path) -> None:
    cache = open_cache(tmp_path, run_id="3333333")
    for i in range(EVENT_BATCH + 3):
        assert cache.lookup(key(task="call-new/new", command=f"{i:064x}"), f"call-new-{i}", tmp_path / str(i)) is None
    written = messages(tmp_path, CACHE_STREAM)
    assert len(written) == EVENT_BATCH  # one full batch; three events still queued
    cache.export("COMPLETED")  # nothing to export, but the queue is written
    written = messages(tmp_path, CACHE_STREAM)
    assert [m.split(", ")[1] for m in written] == [f"task: call-new-{i}" for i in range(EVENT_BATCH + 3)]
    stamps = [e.timestamp for e in LogReader(tmp_path / "logs").read(LOG_GROUP, CACHE_STREAM, limit=1000).events]
    assert stamps == sorted(stamps)


def test_open_returns_none_without_a_cache(tmp_path: Path) -> None:
    spec = replace(make_spec(tmp_path), cache=None)
    assert RunCache.open(spec, LocalObjectStore(tmp_path), tmp_path) is None


def test_completed_task_records_round_trip_and_reject_unsafe_names(tmp_path: Path) -> None:
    task = completed_task(tmp_path, key())
    assert CompletedTask.from_dict(json.loads(json.dumps(task.to_dict()))) == task
    body = task.to_dict()
    for unsafe in ("../escape", "/etc/passwd", "a//b", "a/./b", "", "work/"):
        body["files"] = [{"name": unsafe, "path": "/x", "etag": ""}]
        with pytest.raises(ValueError):
            CompletedTask.from_dict(body)
    body["files"] = [{"name": "work/sub/out..txt", "path": "/x", "etag": ""}]
    assert CompletedTask.from_dict(body).files[0].name == "work/sub/out..txt"


def test_hit_events_round_trip_and_decode_tolerantly() -> None:
    hit = TaskFinished(task_id="1", status="COMPLETED", time=1.0, cache_hit=True, cache_s3_uri="s3://c/u/1/2/e/")
    assert decode(encode(hit)) == hit
    odd = decode(
        '{"type":"task.finished","task_id":"1","status":"COMPLETED","time":1,"cache_hit":"yes","cache_s3_uri":5}'
    )
    assert isinstance(odd, TaskFinished) and (odd.cache_hit, odd.cache_s3_uri) == (False, "")
    old = decode('{"type":"task.finished","task_id":"1","status":"COMPLETED","time":1}')
    assert isinstance(old, TaskFinished) and (old.cache_hit, old.cache_s3_uri) == (False, "")
