"""CWL task call caching: driver runs that write, hit, explain and skip run-cache entries."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from omicsd.engines._cache import STOP_REASON_FILE
from omicsd.engines.cwl._cache_outputs import CONSTANTS_FILE
from omicsd.engines.events import RunOutputs, TaskCreated, TaskFinished, TaskRunning
from omicsd.engines.spec import CacheSpec, write_spec
from omicsd.logs.streams import run_cache_stream, run_stream
from tests.engines.cwl.driver_support import CWL_RUNS, Run, make_run

CACHE_ID = "7654321"
CACHE_UUID = "9a8b7c6d-1111-4222-8333-444455556666"
CACHE_URI = f"s3://caches/runs/{CACHE_UUID}"

FIRST = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, 'cat "$0" "$0" > first.txt; wc -l < first.txt | tr -d " " > n.txt']
inputs:
  f: {type: File, inputBinding: {position: 1}}
outputs:
  out: {type: File, outputBinding: {glob: first.txt}}
  lines:
    type: string
    outputBinding: {glob: n.txt, loadContents: true, outputEval: "$(self[0].contents)"}
"""

SECOND = """cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, 'mkdir -p sub; tr a-z A-Z < "$0" > sub/second.txt']
inputs:
  f: {type: File, inputBinding: {position: 1}}
outputs:
  out: {type: File, outputBinding: {glob: sub/second.txt}}
"""

JOIN = """cwlVersion: v1.2
class: CommandLineTool
hints:
  DockerRequirement: {dockerPull: "ubuntu:22.04"}
baseCommand: cat
inputs:
  x: {type: File, inputBinding: {position: 1}}
  y: {type: File, inputBinding: {position: 2}}
stdout: joined.txt
outputs:
  out: {type: stdout}
"""

PIPELINE = """cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  a: File
  b: File
  items: {type: "int[]", default: [0, 1]}
outputs:
  joined: {type: File, outputSource: join/out}
  lines: {type: string, outputSource: first/lines}
  shards: {type: "File[]", outputSource: shard/part}
steps:
  first: {run: first.cwl, in: {f: a}, out: [out, lines]}
  second: {run: second.cwl, in: {f: b}, out: [out]}
  join: {run: join.cwl, in: {x: first/out, y: second/out}, out: [out]}
  shard:
    scatter: i
    in: {i: items}
    out: [part]
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        i: {type: int, inputBinding: {position: 1}}
      stdout: part.txt
      outputs:
        part: {type: stdout}
"""

REUSE = """cwlVersion: v1.2
class: Workflow
inputs: []
outputs:
  s: {type: string, outputSource: stamp/s}
  t: {type: string, outputSource: steady/t}
steps:
  stamp:
    in: []
    out: [s]
    run:
      class: CommandLineTool
      hints:
        WorkReuse: {enableReuse: false}
      baseCommand: [sh, -c, "date +%s%N > s.txt"]
      inputs: []
      outputs:
        s: {type: string, outputBinding: {glob: s.txt, loadContents: true, outputEval: "$(self[0].contents)"}}
  steady:
    in: []
    out: [t]
    run:
      class: CommandLineTool
      baseCommand: [sh, -c, "echo steady > t.txt"]
      inputs: []
      outputs:
        t: {type: string, outputBinding: {glob: t.txt, loadContents: true, outputEval: "$(self[0].contents)"}}
"""

FAILING = """cwlVersion: v1.2
class: Workflow
inputs: []
outputs: []
steps:
  ok:
    in: []
    out: [done]
    run:
      class: CommandLineTool
      baseCommand: echo
      arguments: [fine]
      inputs: []
      stdout: ok.txt
      outputs:
        done: {type: stdout}
  boom:
    in: {after: ok/done}
    out: []
    run:
      class: CommandLineTool
      baseCommand: [sh, -c, "cat $0 >&2; exit 3"]
      inputs:
        after: {type: File, inputBinding: {position: 1}}
      outputs: []
"""

SLOW_SECOND = """cwlVersion: v1.2
class: Workflow
inputs: []
outputs: []
steps:
  quick:
    in: []
    out: [out]
    run:
      class: CommandLineTool
      baseCommand: [echo, quick]
      inputs: []
      stdout: q.txt
      outputs:
        out: {type: stdout}
  nap:
    in: {after: quick/out}
    out: [out]
    run:
      class: CommandLineTool
      baseCommand: [sleep, "60"]
      inputs:
        after: File
      stdout: nap.txt
      outputs:
        out: {type: stdout}
"""

FILES = {"main.cwl": PIPELINE, "first.cwl": FIRST, "second.cwl": SECOND, "join.cwl": JOIN}
INPUTS = {"a": "s3://inputs/data/a.txt", "b": "s3://inputs/data/b.txt"}
OBJECTS = {"s3://inputs/data/a.txt": b"alpha\n", "s3://inputs/data/b.txt": b"beta\n"}


def cached_run(
    tmp_path: Path,
    run_id: str,
    definition: dict[str, str],
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
    run = make_run(tmp_path / run_id, definition, parameters)
    spec = replace(
        run.spec,
        run_id=run_id,
        buckets_root=str(buckets),
        logs_root=str(logs),
        run_output_uri=f"s3://outputs/runs/{run_id}",
        cache=CacheSpec(cache_id=CACHE_ID, cache_uri=CACHE_URI, cache_behavior=behavior),
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
    manifests = [p for p in sorted(root.glob("*/*/*/*.json")) if p.stem == p.parent.name]
    return [json.loads(p.read_text()) for p in manifests]


def run_log(run: Run) -> list[str]:
    return run.stream_messages(run_stream(run.spec.run_id))


@pytest.mark.slow
def test_identical_rerun_hits_every_task_and_a_changed_input_misses_its_dependents(tmp_path: Path) -> None:
    first = cached_run(tmp_path, "1000001", FILES, INPUTS, objects=OBJECTS).run()
    assert first.finished().status == "COMPLETED", first.stderr
    assert not any(e.cache_hit for e in finished(first).values())
    manifests = entries(tmp_path)
    assert sorted(m["omicsd"]["taskName"] for m in manifests) == ["first", "join", "second", "shard", "shard_2"]
    (entry,) = [m for m in manifests if m["omicsd"]["taskName"] == "first"]
    assert sorted(f["name"] for f in entry["files"]) == [CONSTANTS_FILE, "out/first.txt"]
    assert entry["otherOutputs"] == {}  # constant outputs are cached as an intermediate file

    second = cached_run(tmp_path, "1000002", FILES, INPUTS).run()
    assert second.finished().status == "COMPLETED", second.stderr
    hits = finished(second)
    assert sorted(hits) == ["first", "join", "second", "shard", "shard_2"]
    assert all(e.status == "COMPLETED" and e.cache_hit for e in hits.values())
    assert all(e.cache_s3_uri.startswith(f"{CACHE_URI}/1000001/") for e in hits.values())
    assert not [e for e in second.events() if isinstance(e, TaskRunning)]
    result = outputs(second)
    assert result["main.lines"] == "2\n"
    assert second.bucket_file(result["main.joined"]).read_text() == "alpha\nalpha\nBETA\n"
    assert [second.bucket_file(uri).read_text() for uri in result["main.shards"]] == ["0\n", "1\n"]
    assert len(entries(tmp_path)) == 5  # hits write no new entries
    cache_log = second.stream_messages(run_cache_stream(CACHE_ID, CACHE_UUID))
    assert sum(m.startswith("CACHE_HIT run: 1000002, ") for m in cache_log) == 5

    third = cached_run(tmp_path, "1000003", FILES, INPUTS, objects={INPUTS["a"]: b"gamma\n"}).run()
    assert third.finished().status == "COMPLETED", third.stderr
    assert {n for n, e in finished(third).items() if not e.cache_hit} == {"first", "join"}
    assert third.bucket_file(outputs(third)["main.joined"]).read_text() == "gamma\ngamma\nBETA\n"
    log = run_log(third)
    assert any(m.startswith("Task first: cache miss: input 'f' changed (etag ") for m in log), log
    assert any(m.startswith("Task join: cache miss: input 'x' changed (etag ") for m in log), log
    assert not any(m.startswith(("Task second:", "Task shard")) for m in log), log


@pytest.mark.slow
def test_work_reuse_false_opts_a_step_out(tmp_path: Path) -> None:
    first = cached_run(tmp_path, "1000001", {"main.cwl": REUSE}).run()
    second = cached_run(tmp_path, "1000002", {"main.cwl": REUSE}).run()
    assert second.finished().status == "COMPLETED", second.stderr
    results = finished(second)
    assert not results["stamp"].cache_hit and results["steady"].cache_hit
    assert [e["omicsd"]["taskName"] for e in entries(tmp_path)] == ["steady"]
    assert "Task stamp: not cached: WorkReuse enableReuse is false" in run_log(second)
    assert outputs(first)["main.s"] != outputs(second)["main.s"]
    assert outputs(second)["main.t"] == "steady\n"


@pytest.mark.slow
def test_cache_on_failure_writes_entries_only_for_failed_runs(tmp_path: Path) -> None:
    ok = cached_run(tmp_path, "1000001", {"main.cwl": REUSE}, behavior="CACHE_ON_FAILURE").run()
    assert ok.finished().status == "COMPLETED", ok.stderr
    assert entries(tmp_path) == []
    assert "Run cache 7654321: no entries exported: " in "\n".join(run_log(ok))

    failed = cached_run(tmp_path, "1000002", {"main.cwl": FAILING}, behavior="CACHE_ON_FAILURE").run()
    assert failed.finished().status == "FAILED"
    assert [e["omicsd"]["taskName"] for e in entries(tmp_path)] == ["ok"]

    again = cached_run(tmp_path, "1000003", {"main.cwl": FAILING}, behavior="CACHE_ON_FAILURE").run()
    assert again.finished().status == "FAILED"
    results = finished(again)
    assert results["ok"].cache_hit and results["boom"].status == "FAILED"
    assert "Task boom: not cached: the tool declares no outputs" in run_log(again)
    assert again.finished().failure_reason == "RUN_TASK_FAILED"


@pytest.mark.slow
def test_a_corrupted_entry_is_a_miss_not_a_failure(tmp_path: Path) -> None:
    cached_run(tmp_path, "1000001", FILES, INPUTS, objects=OBJECTS).run()
    (join,) = [e for e in entries(tmp_path) if e["omicsd"]["taskName"] == "join"]
    (tmp_path / "buckets" / join["files"][0]["path"][5:]).unlink()

    second = cached_run(tmp_path, "1000002", FILES, INPUTS).run()
    assert second.finished().status == "COMPLETED", second.stderr
    results = finished(second)
    assert not results["join"].cache_hit and results["first"].cache_hit
    assert second.bucket_file(outputs(second)["main.joined"]).read_text() == "alpha\nalpha\nBETA\n"
    uuid = join["s3uri"].rstrip("/").rsplit("/", 1)[-1]
    assert f"Task join: cache miss: entry {uuid} is invalid: file out/joined.txt is missing" in run_log(second)


@pytest.mark.slow
@pytest.mark.parametrize("timed_out", [False, True], ids=["cancelled", "timed-out"])
def test_a_stopped_run_exports_tasks_completed_before_unless_it_timed_out(tmp_path: Path, timed_out: bool) -> None:
    run = cached_run(tmp_path, "1000001", {"main.cwl": SLOW_SECOND})
    run.start()

    def nap_running(event: Any) -> bool:
        naps = {c.task_id for c in run.events() if isinstance(c, TaskCreated) and c.name == "nap"}
        return isinstance(event, TaskRunning) and event.task_id in naps

    run.wait_for_event(nap_running)
    if timed_out:
        (run.run_dir / STOP_REASON_FILE).write_text("RUN_TIMED_OUT\n")
    run.signal(signal.SIGTERM)
    run.wait()
    assert run.finished().status == "CANCELLED"
    assert finished(run)["nap"].status == "CANCELLED"
    assert [e["omicsd"]["taskName"] for e in entries(tmp_path)] == ([] if timed_out else ["quick"])


SAMPLES = {
    "secondary": (
        {"bam": "s3://inputs/s/sample.bam"},
        {
            "s3://inputs/s/sample.bam": b"BAM\n",
            "s3://inputs/s/sample.bam.bai": b"BAI\n",
            "s3://inputs/s/sample.idx": b"I\n",
        },
    ),
    "directory": (
        {"refs": "s3://inputs/refs/", "message": "hi there"},
        {"s3://inputs/refs/a.fa": b">a\n", "s3://inputs/refs/b.fa": b">b\n"},
    ),
    "subworkflow": ({"word": "quiet"}, {}),
    "expression": ({"n": 4}, {}),
    "multi": ({"text": "s3://inputs/texts/in.txt"}, {"s3://inputs/texts/in.txt": b"hello world\nsecond line\n"}),
}


def exported(run: Run) -> dict[str, bytes]:
    """Every exported output file of a run (relative path → content)."""
    root = run.bucket_file(run.spec.run_output_uri) / "out"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_samples_rerun_from_the_cache_with_the_same_outputs(tmp_path: Path, sample: str) -> None:
    parameters, objects = SAMPLES[sample]
    root = CWL_RUNS / sample
    definition = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.cwl")}
    first = cached_run(tmp_path, "1000001", definition, parameters, objects=objects).run()
    assert first.finished().status == "COMPLETED", first.stderr
    second = cached_run(tmp_path, "1000002", definition, parameters).run()
    assert second.finished().status == "COMPLETED", second.stderr
    results = finished(second)
    assert results and all(e.cache_hit for e in results.values()), run_log(second)
    assert exported(second) == exported(first)
    summary = {k: v.replace("/1000002/", "/1000001/") if isinstance(v, str) else v for k, v in outputs(second).items()}
    assert summary == outputs(first)
