"""WDL task call caching: keys of WDL tasks, and driver runs that write, hit and explain run-cache entries."""

from __future__ import annotations

import json
import logging
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import WDL
import WDL.runtime
import WDL.runtime.workflow
from WDL import Env, Value
from WDL.runtime.cache import CallCacheAddPaths

from omicsd.blobs.local import LocalObjectStore
from omicsd.engines._cache import STOP_REASON_FILE, CacheEntry, CacheKey, CompletedTask, ContentDigests, Hit
from omicsd.engines._cache_key import differences
from omicsd.engines.events import RunOutputs, TaskCreated, TaskFinished, TaskRunning
from omicsd.engines.spec import CacheSpec, write_spec
from omicsd.engines.wdl._config import miniwdl_config
from omicsd.engines.wdl.cache import (
    OmicsdCallCache,
    _definition_digests,
    _entry_material,
    _hit_outputs,
    current_call,
    task_key,
    tracking_calls,
)
from omicsd.logs.streams import run_cache_stream, run_stream
from tests.engines.wdl.driver_support import Run, make_run

CACHE_UUID = "9a8b7c6d-1111-4222-8333-444455556666"
CACHE_URI = f"s3://caches/runs/{CACHE_UUID}"

PIPELINE = """version 1.0
workflow pipeline {
  input { File a  File b  Int n = 2 }
  call first { input: f = a }
  call second { input: f = b }
  call join { input: x = first.out, y = second.out }
  scatter (i in range(n)) { call shard { input: i = i } }
  output { File joined = join.out  Int lines = first.lines  Array[File] shards = shard.out }
}
task first {
  input { File f }
  command <<< cat ~{f} ~{f} > first.txt; wc -l < first.txt >>>
  output { File out = "first.txt"  Int lines = read_int(stdout()) }
}
task second {
  input { File f }
  command <<< mkdir -p sub; tr a-z A-Z < ~{f} > sub/second.txt >>>
  output { File out = "sub/second.txt" }
}
task join {
  input { File x  File y }
  command <<< cat ~{x} ~{y} > joined.txt >>>
  output { File out = "joined.txt" }
  runtime { docker: "ubuntu:22.04" }
}
task shard {
  input { Int i }
  command <<< echo ~{i} > part.txt >>>
  output { File out = "part.txt" }
}
"""

VOLATILE = """version 1.0
workflow vol {
  call stamp
  call steady
  output { String s = stamp.s  String t = steady.t }
}
task stamp {
  command <<< date +%s%N >>>
  output { String s = read_string(stdout()) }
  meta { volatile: true }
}
task steady {
  command <<< echo steady >>>
  output { String t = read_string(stdout()) }
}
"""

FAILING = """version 1.0
workflow breaks {
  call ok
  call boom { input: after = ok.done }
}
task ok { command <<< echo fine >>> output { String done = read_string(stdout()) } }
task boom { input { String after } command <<< echo ~{after} >&2; exit 3 >>> }
"""

SLOW_SECOND = """version 1.0
workflow slow {
  call quick
  call nap { input: after = quick.out }
}
task quick { command <<< echo quick > q.txt >>> output { File out = "q.txt" } }
task nap { input { File after } command <<< sleep 60 >>> output { String s = "done" } }
"""


def cached_run(
    tmp_path: Path,
    run_id: str,
    source: str,
    parameters: dict[str, Any] | None = None,
    *,
    behavior: str = "CACHE_ALWAYS",
    objects: dict[str, bytes] | None = None,
) -> Run:
    """A driver run whose buckets, logs and run cache are shared with the other runs of the test."""
    buckets, logs = tmp_path / "buckets", tmp_path / "logs"
    for uri, data in (objects or {}).items():
        path = buckets / uri[5:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / run_id).mkdir()
    run = make_run(tmp_path / run_id, source, parameters)
    spec = replace(
        run.spec,
        run_id=run_id,
        buckets_root=str(buckets),
        logs_root=str(logs),
        run_output_uri=f"s3://outputs/runs/{run_id}",
        cache=CacheSpec(cache_id="7654321", cache_uri=CACHE_URI, cache_behavior=behavior),
    )
    write_spec(run.run_dir, spec)
    run.spec, run.buckets, run.logs = spec, buckets, logs
    return run


def finished(run: Run) -> dict[str, TaskFinished]:
    """Task name → its TaskFinished."""
    names = {e.task_id: e.name for e in run.events() if isinstance(e, TaskCreated)}
    return {names[e.task_id]: e for e in run.events() if isinstance(e, TaskFinished)}


def outputs(run: Run) -> dict[str, Any]:
    (event,) = [e for e in run.events() if isinstance(e, RunOutputs)]
    return dict(event.outputs)


def entries(tmp_path: Path) -> list[dict[str, Any]]:
    root = tmp_path / "buckets" / CACHE_URI[5:]
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/*/*/*.json"))]


def cache_log(run: Run) -> list[str]:
    return run.stream_messages(run_cache_stream("7654321", CACHE_UUID))


INPUTS = {"a": "s3://inputs/data/a.txt", "b": "s3://inputs/data/b.txt"}
OBJECTS = {"s3://inputs/data/a.txt": b"alpha\n", "s3://inputs/data/b.txt": b"beta\n"}


# -- keys -----------------------------------------------------------------------------------------------------


def _task(source: str) -> Any:
    doc = WDL.parse_document(source)
    doc.typecheck()
    return doc.tasks[0]


KEYED = """version 1.0
task align {
  input { File reads  Int n = 2  String image = "biocontainers/bwa:1" }
  command <<<
    bwa mem ~{reads} > out.sam
  >>>
  output { File sam = "out.sam" }
  runtime { docker: image  cpu: 2 }
}
"""


def test_task_keys_see_content_not_paths(tmp_path: Path) -> None:
    digests = ContentDigests(LocalObjectStore(tmp_path / "buckets"))
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "reads.fq").write_text("ACGT\n")
    task = _task(KEYED)

    def inputs(path: Path, n: int = 2) -> Env.Bindings[Value.Base]:
        return Env.Bindings().bind("reads", Value.File(str(path))).bind("n", Value.Int(n))

    one = task_key(task, "call-align-3", inputs(tmp_path / "one" / "reads.fq"), digests)
    two = task_key(task, "call-align-0", inputs(tmp_path / "two" / "reads.fq"), digests)
    assert one == two and one.task == "call-align/align"
    assert one.image == "biocontainers/bwa:1" and one.engine.startswith("miniwdl ")

    (tmp_path / "two" / "reads.fq").write_text("TTTT\n")
    changed = task_key(task, "call-align-0", inputs(tmp_path / "two" / "reads.fq"), digests)
    (why,) = differences(changed, one)
    assert why.startswith("input 'reads' changed (etag ")

    edited = _task(KEYED.replace("bwa mem", "bwa mem -t 2"))
    (why,) = differences(task_key(edited, "call-align-3", inputs(tmp_path / "one" / "reads.fq"), digests), one)
    assert why.startswith("command differs (was ")

    bumped = _task(KEYED.replace("cpu: 2", "cpu: 4"))
    (why,) = differences(task_key(bumped, "call-align-3", inputs(tmp_path / "one" / "reads.fq"), digests), one)
    assert why.startswith("definition differs")

    other_image = inputs(tmp_path / "one" / "reads.fq").bind("image", Value.String("bwa:2"))
    assert differences(task_key(task, "call-align-3", other_image, digests), one) == [
        "image differs (was biocontainers/bwa:1, now bwa:2)",
        "input 'image' added",
    ]


def test_definition_parts_are_computed_once_per_task_and_equal_for_equal_sources(tmp_path: Path) -> None:
    digests = ContentDigests(LocalObjectStore(tmp_path / "buckets"))
    (tmp_path / "reads.fq").write_text("ACGT\n")
    inputs = Env.Bindings().bind("reads", Value.File(str(tmp_path / "reads.fq")))
    task, twin = _task(KEYED), _task(KEYED)
    first = task_key(task, "call-align-0", inputs, digests)
    assert task_key(task, "call-align-1", inputs, digests) == first
    assert task_key(twin, "call-align-0", inputs, digests) == first
    assert _definition_digests(task) == _definition_digests(twin) == (first.command, first.definition)
    assert _definition_digests(_task(KEYED.replace("cpu: 2", "cpu: 3")))[1] != first.definition


def test_tracking_calls_notes_the_call_and_restores_miniwdl(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(WDL.runtime.task, "run_local_task", lambda *a, **k: seen.append(current_call()))
    real = WDL.runtime.workflow.run_local_task
    task = _task(KEYED)
    with tracking_calls():
        assert WDL.runtime.workflow.run_local_task is WDL.runtime.run_local_task is not real
        WDL.runtime.workflow.run_local_task(None, task, None, run_id="call-align-1", run_dir="/w/call-align-1/.")
        WDL.runtime.run_local_task(None, task, None, run_dir="/w/elsewhere")
    assert WDL.runtime.workflow.run_local_task is real and WDL.runtime.run_local_task is real
    assert [(c.run_id, c.task_dir) for c in seen] == [("call-align-1", "/w/call-align-1"), ("align", "")]
    assert current_call() is None


def test_outputs_round_trip_through_an_entry_with_directories_and_outside_files(tmp_path: Path) -> None:
    task_dir = tmp_path / "run1" / "call-x"
    (task_dir / "work" / "outdir" / "sub").mkdir(parents=True)
    (task_dir / "work" / "outdir" / "a.txt").write_text("a\n")
    (task_dir / "work" / "outdir" / "sub" / "b.txt").write_text("b\n")
    (task_dir / "work" / "p.txt").write_text("p\n")
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "in.txt").write_text("in\n")
    (task_dir / "out").mkdir()
    (task_dir / "out" / "p.txt").symlink_to(task_dir / "work" / "p.txt")
    values: Env.Bindings[Value.Base] = Env.Bindings()
    values = values.bind("d", Value.Directory(str(task_dir / "work" / "outdir")))
    values = values.bind("f", Value.File(str(tmp_path / "inputs" / "in.txt")))
    values = values.bind("n", Value.Int(3))
    values = values.bind("arr", Value.Array(WDL.Type.File(), [Value.File(str(task_dir / "out" / "p.txt"))]))

    files, outputs_json, other = _entry_material(values, str(task_dir))
    assert sorted(f.name for f in files) == [
        "external/0/in.txt",
        "work/outdir/a.txt",
        "work/outdir/sub/b.txt",
        "work/p.txt",
    ]
    assert outputs_json == {"d": "work/outdir", "f": "external/0/in.txt", "n": 3, "arr": ["work/p.txt"]}
    assert other == {"n": 3}

    copy = tmp_path / "run2" / "call-x"
    for cached in files:
        (copy / cached.name).parent.mkdir(parents=True, exist_ok=True)
        (copy / cached.name).write_bytes(Path(cached.path).read_bytes())
    task = CompletedTask(
        key=CacheKey("t", "e", "c", "", "d"), task_id="1", name="call-x", work_dir="", files=files, outputs=outputs_json
    )
    hit = Hit(CacheEntry("u", "arn", "s3://c/u/", "", "1", task), {})
    types: Env.Bindings[WDL.Type.Base] = Env.Bindings()
    for name, ty in [
        ("d", WDL.Type.Directory()),
        ("f", WDL.Type.File()),
        ("n", WDL.Type.Int()),
        ("arr", WDL.Type.Array(WDL.Type.File())),
    ]:
        types = types.bind(name, ty)
    got = _hit_outputs(hit, copy, types)
    assert got["d"].value == str(copy / "work" / "outdir") and got["n"].value == 3
    assert Path(got["f"].value).read_text() == "in\n"
    assert Path(got["arr"].value[0].value).read_text() == "p\n"
    with pytest.raises(ValueError, match="no output"):
        _hit_outputs(hit, copy, types.bind("missing", WDL.Type.Int()))
    placed = Hit(hit.entry, {f.name: copy / f.name for f in files})  # as lookup() reports them
    again = _hit_outputs(placed, copy, types)
    assert [again[n].json for n in ("d", "f", "n", "arr")] == [got[n].json for n in ("d", "f", "n", "arr")]
    (copy / "work" / "p.txt").unlink()
    with pytest.raises(ValueError, match="no file"):
        _hit_outputs(hit, copy, types)


def test_outside_a_driver_the_call_cache_is_miniwdls(tmp_path: Path) -> None:
    cfg = miniwdl_config(tmp_path, task_concurrency=1)
    with OmicsdCallCache(cfg, logging.getLogger("test")) as cache:
        assert cache.get("t/d/i", Env.Bindings(), Env.Bindings()) is None
        cache.put("t/d/i", Env.Bindings(), inputs=Env.Bindings(), add_paths=CallCacheAddPaths())
    assert not (tmp_path / ".miniwdl" / "call_cache").exists()


# -- driver runs ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_identical_rerun_hits_every_task_and_changed_input_misses_dependents(tmp_path: Path) -> None:
    first = cached_run(tmp_path, "1000001", PIPELINE, INPUTS, objects=OBJECTS).run()
    assert first.finished().status == "COMPLETED", first.stderr
    assert not any(e.cache_hit for e in finished(first).values())
    assert len(entries(tmp_path)) == 5

    second = cached_run(tmp_path, "1000002", PIPELINE, INPUTS).run()
    assert second.finished().status == "COMPLETED", second.stderr
    hits = finished(second)
    assert sorted(hits) == ["call-first", "call-join", "call-second", "call-shard-0", "call-shard-1"]
    assert all(e.status == "COMPLETED" and e.cache_hit for e in hits.values())
    assert all(e.cache_s3_uri.startswith(f"{CACHE_URI}/1000001/") for e in hits.values())
    assert not [e for e in second.events() if isinstance(e, TaskRunning)]
    assert outputs(second)["pipeline.lines"] == 2
    joined = second.bucket_file(outputs(second)["pipeline.joined"]).read_text()
    assert joined == "alpha\nalpha\nBETA\n"
    assert len(entries(tmp_path)) == 5  # hits write no new entries
    assert sum(m.startswith("CACHE_HIT run: 1000002, ") for m in cache_log(second)) == 5

    third = cached_run(tmp_path, "1000003", PIPELINE, INPUTS, objects={INPUTS["a"]: b"gamma\n"}).run()
    assert third.finished().status == "COMPLETED", third.stderr
    results = finished(third)
    assert {n for n, e in results.items() if not e.cache_hit} == {"call-first", "call-join"}
    assert third.bucket_file(outputs(third)["pipeline.joined"]).read_text() == "gamma\ngamma\nBETA\n"
    log = third.stream_messages(run_stream("1000003"))
    assert any(m.startswith("Task call-first: cache miss: input 'f' changed (etag ") for m in log), log
    assert any(m.startswith("Task call-join: cache miss: input 'x' changed (etag ") for m in log), log
    assert any(m.startswith("CACHE_MISS run: 1000003, task: call-first") for m in cache_log(third))


@pytest.mark.slow
def test_volatile_tasks_are_never_cached(tmp_path: Path) -> None:
    first = cached_run(tmp_path, "1000001", VOLATILE).run()
    second = cached_run(tmp_path, "1000002", VOLATILE).run()
    assert second.finished().status == "COMPLETED", second.stderr
    results = finished(second)
    assert not results["call-stamp"].cache_hit and results["call-steady"].cache_hit
    assert [e["omicsd"]["taskName"] for e in entries(tmp_path)] == ["call-steady"]
    assert "Task call-stamp: not cached: meta volatile is true" in second.stream_messages(run_stream("1000002"))
    assert outputs(first)["vol.s"] != outputs(second)["vol.s"]


@pytest.mark.slow
def test_cache_on_failure_writes_entries_only_for_failed_runs(tmp_path: Path) -> None:
    ok = cached_run(tmp_path, "1000001", VOLATILE.replace("meta { volatile: true }", ""), behavior="CACHE_ON_FAILURE")
    assert ok.run().finished().status == "COMPLETED"
    assert entries(tmp_path) == []

    failed = cached_run(tmp_path, "1000002", FAILING, behavior="CACHE_ON_FAILURE").run()
    assert failed.finished().status == "FAILED"
    assert [e["omicsd"]["taskName"] for e in entries(tmp_path)] == ["call-ok"]

    again = cached_run(tmp_path, "1000003", FAILING, behavior="CACHE_ON_FAILURE").run()
    assert again.finished().status == "FAILED"
    results = finished(again)
    assert results["call-ok"].cache_hit and results["call-boom"].status == "FAILED"
    assert "Task call-boom: not cached: the task declares no outputs" in again.stream_messages(run_stream("1000003"))


@pytest.mark.slow
def test_a_corrupted_entry_is_a_miss_not_a_failure(tmp_path: Path) -> None:
    cached_run(tmp_path, "1000001", PIPELINE, INPUTS, objects=OBJECTS).run()
    (join,) = [e for e in entries(tmp_path) if e["omicsd"]["taskName"] == "call-join"]
    (tmp_path / "buckets" / join["files"][0]["path"][5:]).unlink()

    second = cached_run(tmp_path, "1000002", PIPELINE, INPUTS).run()
    assert second.finished().status == "COMPLETED", second.stderr
    results = finished(second)
    assert not results["call-join"].cache_hit and results["call-first"].cache_hit
    assert second.bucket_file(outputs(second)["pipeline.joined"]).read_text() == "alpha\nalpha\nBETA\n"
    uuid = join["s3uri"].rstrip("/").rsplit("/", 1)[-1]
    expected = f"Task call-join: cache miss: entry {uuid} is invalid: file work/joined.txt is missing"
    assert expected in second.stream_messages(run_stream("1000002"))


@pytest.mark.slow
@pytest.mark.parametrize("timed_out", [False, True], ids=["cancelled", "timed-out"])
def test_a_stopped_run_exports_tasks_completed_before_unless_it_timed_out(tmp_path: Path, timed_out: bool) -> None:
    run = cached_run(tmp_path, "1000001", SLOW_SECOND)
    run.start()
    run.wait_for_event(lambda e: isinstance(e, TaskRunning) and len(finished(run)) == 1)
    if timed_out:
        (run.run_dir / STOP_REASON_FILE).write_text("RUN_TIMED_OUT\n")
    run.signal(signal.SIGTERM)
    run.wait()
    assert run.finished().status == "CANCELLED"
    names = [e["omicsd"]["taskName"] for e in entries(tmp_path)]
    assert names == ([] if timed_out else ["call-quick"])
