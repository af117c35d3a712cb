"""CWL run caches end to end: boto3 -> live server -> CWL driver -> cache entries -> cached reruns."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import all_tasks, register, start, wait_run
from tests.e2e.test_cwl_runs import register_cwl
from tests.e2e.test_run_cache import bucket_text, create_cache, put_object, run_log, tasks_by_name

pytestmark = pytest.mark.slow

TWO_STEPS = """cwlVersion: v1.2
class: Workflow
inputs:
  text: File
outputs:
  upper: {type: File, outputSource: upper/out}
  words: {type: string, outputSource: count/words}
steps:
  upper:
    in: {text: text}
    out: [out]
    run:
      class: CommandLineTool
      hints:
        DockerRequirement: {dockerPull: "ubuntu:22.04"}
      baseCommand: [tr, "a-z", "A-Z"]
      inputs:
        text: File
      stdin: $(inputs.text.path)
      stdout: upper.txt
      outputs:
        out: {type: stdout}
  count:
    in: {text: upper/out}
    out: [words]
    run:
      class: CommandLineTool
      baseCommand: [sh, -c, 'wc -w < "$0" | tr -d " " > words.txt']
      inputs:
        text: {type: File, inputBinding: {position: 1}}
      outputs:
        words:
          type: string
          outputBinding: {glob: words.txt, loadContents: true, outputEval: "$(self[0].contents)"}
"""

TEXT = "s3://inputs/cwl/text.txt"


def cached_run(omics: Any, wid: str, cache_id: str, parameters: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
    run = wait_run(omics, start(omics, wid, parameters=parameters, cacheId=cache_id)["id"], timeout=timeout)
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    return run


def entry_manifests(settings: Any, cache: dict[str, Any]) -> list[dict[str, Any]]:
    """The cache's entry manifests (``<uuid>/<uuid>.json``; ``cwl.output.json`` beside them is an entry file)."""
    root = Path(settings.buckets_path) / "caches" / "omics"
    found = [p for p in sorted(root.glob("*/*/*/*/*.json")) if p.stem == p.parent.name]
    manifests = [json.loads(p.read_text()) for p in found]
    return [m for m in manifests if f":runCache/{cache['id']}/cacheEntry/" in m["arn"]]


def outputs_json(settings: Any, run: dict[str, Any]) -> dict[str, Any]:
    path = Path(settings.buckets_path) / f"{run['runOutputUri']}/logs/outputs.json".removeprefix("s3://")
    body: dict[str, Any] = json.loads(path.read_text())
    return body


def test_two_step_workflow_reruns_from_the_cache_with_correct_outputs(omics: Any, e2e_settings: Any) -> None:
    wid = register(omics, {"main.cwl": TWO_STEPS}, name="two-steps", engine="CWL", main="main.cwl")
    cache = create_cache(omics, "CACHE_ALWAYS")
    put_object(e2e_settings, TEXT, b"one two\nthree\n")

    first = cached_run(omics, wid, cache["id"], {"text": TEXT})
    assert not any(t["cacheHit"] for t in tasks_by_name(omics, first["id"]).values())
    manifests = entry_manifests(e2e_settings, cache)
    assert sorted(m["omicsd"]["taskName"] for m in manifests) == ["count", "upper"]

    second = cached_run(omics, wid, cache["id"], {"text": TEXT})
    tasks = tasks_by_name(omics, second["id"])
    assert sorted(tasks) == ["count", "upper"]
    assert all(t["cacheHit"] and t["status"] == "COMPLETED" for t in tasks.values())
    upper = omics.get_run_task(id=second["id"], taskId=tasks["upper"]["taskId"])
    assert upper["cacheHit"] is True and f"/{first['id']}/" in upper["cacheS3Uri"]
    assert upper["imageDetails"]["image"] == "ubuntu:22.04"
    summary = outputs_json(e2e_settings, second)
    assert summary["main.words"] == "3\n"
    assert bucket_text(e2e_settings, summary["main.upper"]) == "ONE TWO\nTHREE\n"
    assert len(entry_manifests(e2e_settings, cache)) == 2

    put_object(e2e_settings, TEXT, b"four five six seven\n")
    third = cached_run(omics, wid, cache["id"], {"text": TEXT})
    assert {n for n, t in tasks_by_name(omics, third["id"]).items() if not t["cacheHit"]} == {"upper", "count"}
    assert any(m.startswith("Task upper: cache miss: input 'text' changed (etag ") for m in run_log(omics, third["id"]))
    assert outputs_json(e2e_settings, third)["main.words"] == "4\n"


def test_scatter_of_fifty_reruns_fully_from_the_cache(omics: Any, e2e_settings: Any) -> None:
    wid = register_cwl(omics, "scatter")
    cache = create_cache(omics, "CACHE_ALWAYS")
    parameters = {"items": list(range(50))}
    first = cached_run(omics, wid, cache["id"], parameters, timeout=300)
    assert len(entry_manifests(e2e_settings, cache)) == 51

    begun = time.monotonic()
    second = cached_run(omics, wid, cache["id"], parameters, timeout=300)
    elapsed = time.monotonic() - begun
    tasks = all_tasks(omics, second["id"])
    assert len(tasks) == 51
    assert all(t["cacheHit"] and t["status"] == "COMPLETED" and t["cacheS3Uri"] for t in tasks)
    out = f"{second['runOutputUri']}/out"
    assert bucket_text(e2e_settings, f"{out}/total/total.txt").strip() == str(sum(range(50)))
    assert bucket_text(e2e_settings, f"{out}/parts/49/part.txt") == "49\n"
    first_span = (first["stopTime"] - first["startTime"]).total_seconds()
    second_span = (second["stopTime"] - second["startTime"]).total_seconds()
    print(
        f"50-shard CWL scatter: first run {first_span:.2f} s, cached rerun {second_span:.2f} s ({elapsed:.2f} s wall)"
    )
