"""Run caches end to end: boto3 -> live server -> WDL driver -> cache entries in the bucket -> cached reruns."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import all_tasks, register, start, wait_run
from tests.support.shapes import assert_matches_output_shape

pytestmark = pytest.mark.slow

PIPELINE = """version 1.0
workflow pipeline {
  input { File a  File b }
  call first { input: f = a }
  call second { input: f = b }
  call join { input: x = first.out, y = second.out }
  call stamp
  output { File joined = join.out  Int lines = first.lines  String when = stamp.when }
}
task first {
  input { File f }
  command <<< cat ~{f} ~{f} > first.txt; wc -l < first.txt >>>
  output { File out = "first.txt"  Int lines = read_int(stdout()) }
}
task second {
  input { File f }
  command <<< tr a-z A-Z < ~{f} > second.txt >>>
  output { File out = "second.txt" }
}
task join {
  input { File x  File y }
  command <<< cat ~{x} ~{y} > joined.txt >>>
  output { File out = "joined.txt" }
}
task stamp {
  command <<< date +%s%N >>>
  output { String when = read_string(stdout()) }
  meta { volatile: true }
}
"""

FAILING = """version 1.0
workflow breaks {
  input { Boolean fail = true }
  call ok
  call boom { input: after = ok.done, fail = fail }
  output { String done = ok.done }
}
task ok { command <<< echo fine >>> output { String done = read_string(stdout()) } }
task boom {
  input { String after  Boolean fail }
  command <<< echo ~{after} >&2; ~{if fail then "exit 3" else "true"} >>>
  output { String said = after }
}
"""

SCATTER = """version 1.0
workflow fan {
  input { Int n }
  scatter (i in range(n)) { call shard { input: i = i } }
  call gather { input: parts = shard.out }
  output { File total = gather.out }
}
task shard {
  input { Int i }
  command <<< echo ~{i} > part.txt >>>
  output { File out = "part.txt" }
}
task gather {
  input { Array[File] parts }
  command <<< cat ~{sep=" " parts} | awk '{s += $1} END {print s}' > total.txt >>>
  output { File out = "total.txt" }
}
"""

INPUTS = {"a": "s3://inputs/data/a.txt", "b": "s3://inputs/data/b.txt"}


def put_object(settings: Any, uri: str, data: bytes) -> None:
    path = Path(settings.buckets_path) / uri[5:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def bucket_text(settings: Any, uri: str) -> str:
    return (Path(settings.buckets_path) / uri[5:]).read_text()


def create_cache(omics: Any, behavior: str) -> dict[str, Any]:
    cache: dict[str, Any] = omics.create_run_cache(cacheS3Location="s3://caches/omics/", cacheBehavior=behavior)
    return cache


def cached_run(omics: Any, wid: str, cache_id: str, parameters: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    run = wait_run(omics, start(omics, wid, parameters=parameters, cacheId=cache_id, **kwargs)["id"], timeout=240)
    assert_matches_output_shape("GetRun", run)
    return run


def tasks_by_name(omics: Any, run_id: str) -> dict[str, dict[str, Any]]:
    items = all_tasks(omics, run_id)
    for item in items:
        assert_matches_output_shape("ListRunTasks", {"items": [item]})
    return {item["name"]: item for item in items}


def run_log(omics: Any, run_id: str) -> list[str]:
    logs = boto3.session.Session().client(
        "logs",
        endpoint_url=omics.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    events = logs.get_log_events(
        logGroupName="/aws/omics/WorkflowLog", logStreamName=f"run/{run_id}", startFromHead=True, limit=10000
    )["events"]
    return [event["message"] for event in events]


def entry_manifests(settings: Any, cache: dict[str, Any]) -> list[dict[str, Any]]:
    root = Path(settings.buckets_path) / "caches" / "omics"
    manifests = [json.loads(p.read_text()) for p in sorted(root.glob("*/*/*/*/*.json"))]
    return [m for m in manifests if f":runCache/{cache['id']}/cacheEntry/" in m["arn"]]


def test_cache_always_hits_explains_misses_and_survives_a_corrupted_entry(omics: Any, e2e_settings: Any) -> None:
    wid = register(omics, {"main.wdl": PIPELINE}, name="pipeline")
    cache = create_cache(omics, "CACHE_ALWAYS")
    put_object(e2e_settings, INPUTS["a"], b"alpha\n")
    put_object(e2e_settings, INPUTS["b"], b"beta\n")

    first = cached_run(omics, wid, cache["id"], INPUTS)
    assert first["status"] == "COMPLETED", first.get("statusMessage")
    assert (first["cacheId"], first["cacheBehavior"]) == (cache["id"], "CACHE_ALWAYS")
    assert not any(t["cacheHit"] for t in tasks_by_name(omics, first["id"]).values())
    manifests = entry_manifests(e2e_settings, cache)
    assert sorted(m["omicsd"]["taskName"] for m in manifests) == ["call-first", "call-join", "call-second"]

    second = cached_run(omics, wid, cache["id"], INPUTS)
    assert second["status"] == "COMPLETED", second.get("statusMessage")
    tasks = tasks_by_name(omics, second["id"])
    assert {n for n, t in tasks.items() if t["cacheHit"]} == {"call-first", "call-second", "call-join"}
    assert not tasks["call-stamp"]["cacheHit"] and "cacheS3Uri" not in tasks["call-stamp"]
    join = omics.get_run_task(id=second["id"], taskId=tasks["call-join"]["taskId"])
    assert_matches_output_shape("GetRunTask", join)
    assert join["status"] == "COMPLETED" and join["cacheHit"] is True
    assert join["cacheS3Uri"].startswith("s3://caches/omics/") and f"/{first['id']}/" in join["cacheS3Uri"]
    assert join["creationTime"] <= join["stopTime"]
    out = f"s3://results/runs/{second['id']}/out"
    assert bucket_text(e2e_settings, f"{out}/joined/joined.txt") == "alpha\nalpha\nBETA\n"
    assert len(entry_manifests(e2e_settings, cache)) == 3

    put_object(e2e_settings, INPUTS["a"], b"gamma\n")
    third = cached_run(omics, wid, cache["id"], INPUTS)
    assert third["status"] == "COMPLETED", third.get("statusMessage")
    tasks = tasks_by_name(omics, third["id"])
    assert {n for n, t in tasks.items() if not t["cacheHit"]} == {"call-first", "call-join", "call-stamp"}
    log = run_log(omics, third["id"])
    assert any(m.startswith("Task call-first: cache miss: input 'f' changed (etag ") for m in log), log
    assert any(m.startswith("Task call-join: cache miss: input 'x' changed (etag ") for m in log), log
    assert not any(m.startswith("Task call-second: cache miss") for m in log)
    out = f"s3://results/runs/{third['id']}/out"
    assert bucket_text(e2e_settings, f"{out}/joined/joined.txt") == "gamma\ngamma\nBETA\n"

    (second_entry,) = [m for m in entry_manifests(e2e_settings, cache) if m["omicsd"]["taskName"] == "call-second"]
    (Path(e2e_settings.buckets_path) / second_entry["files"][0]["path"][5:]).unlink()
    fourth = cached_run(omics, wid, cache["id"], INPUTS)
    assert fourth["status"] == "COMPLETED", fourth.get("statusMessage")
    tasks = tasks_by_name(omics, fourth["id"])
    assert {n for n, t in tasks.items() if not t["cacheHit"]} == {"call-second", "call-stamp"}
    assert any("Task call-second: cache miss: entry " in m and "is missing" in m for m in run_log(omics, fourth["id"]))


def test_cache_on_failure_writes_entries_only_when_the_run_fails(omics: Any, e2e_settings: Any) -> None:
    wid = register(omics, {"main.wdl": FAILING}, name="breaks")
    cache = create_cache(omics, "CACHE_ON_FAILURE")

    passed = cached_run(omics, wid, cache["id"], {"fail": False})
    assert passed["status"] == "COMPLETED", passed.get("statusMessage")
    assert passed["cacheBehavior"] == "CACHE_ON_FAILURE"
    assert entry_manifests(e2e_settings, cache) == []

    failed = cached_run(omics, wid, cache["id"], {"fail": True})
    assert failed["status"] == "FAILED"
    assert [m["omicsd"]["taskName"] for m in entry_manifests(e2e_settings, cache)] == ["call-ok"]

    again = cached_run(omics, wid, cache["id"], {"fail": False})
    assert again["status"] == "COMPLETED", again.get("statusMessage")
    tasks = tasks_by_name(omics, again["id"])
    assert tasks["call-ok"]["cacheHit"] is True and tasks["call-boom"]["cacheHit"] is False
    assert len(entry_manifests(e2e_settings, cache)) == 1  # a successful CACHE_ON_FAILURE run writes nothing

    override = cached_run(omics, wid, cache["id"], {"fail": False}, cacheBehavior="CACHE_ALWAYS")
    assert override["cacheBehavior"] == "CACHE_ALWAYS"
    assert len(entry_manifests(e2e_settings, cache)) == 2  # call-boom, now under CACHE_ALWAYS


def test_two_hundred_task_scatter_reruns_fully_from_cache(omics: Any, e2e_settings: Any) -> None:
    wid = register(omics, {"main.wdl": SCATTER}, name="fan")
    cache = create_cache(omics, "CACHE_ALWAYS")
    first = cached_run(omics, wid, cache["id"], {"n": 200})
    assert first["status"] == "COMPLETED", first.get("statusMessage")

    begun = time.monotonic()
    second = cached_run(omics, wid, cache["id"], {"n": 200})
    elapsed = time.monotonic() - begun
    assert second["status"] == "COMPLETED", second.get("statusMessage")
    tasks = all_tasks(omics, second["id"])
    assert len(tasks) == 201
    assert all(t["cacheHit"] and t["status"] == "COMPLETED" and t["cacheS3Uri"] for t in tasks)
    assert bucket_text(e2e_settings, f"s3://results/runs/{second['id']}/out/total/total.txt") == "19900\n"
    first_span = (first["stopTime"] - first["startTime"]).total_seconds()
    second_span = (second["stopTime"] - second["startTime"]).total_seconds()
    print(f"200-task scatter: first run {first_span:.2f} s, cached rerun {second_span:.2f} s ({elapsed:.2f} s wall)")
