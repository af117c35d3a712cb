"""WDL runs end to end: boto3 -> live server -> scheduler -> miniwdl driver -> local executor -> outputs."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import all_tasks, register, start, wait_run
from tests.support.shapes import assert_matches_output_shape

pytestmark = pytest.mark.slow

HELLO = """version 1.0
workflow hello {
  input { String name  Int times = 1 }
  call greet { input: name = name, times = times }
  output { File greeting = greet.out  Int count = greet.count }
}
task greet {
  input { String name  Int times }
  command <<<
    for i in $(seq 1 ~{times}); do echo "Hello, ~{name}!"; done > greeting.txt
    echo "said hello" 1>&2
    echo ~{times}
  >>>
  output { File out = "greeting.txt"  Int count = read_int(stdout()) }
  runtime { cpu: 3  memory: "10 GiB" }
}
"""

SCATTER = """version 1.0
workflow fan {
  input { Int n }
  scatter (i in range(n)) { call shard { input: i = i } }
  call gather { input: parts = shard.out }
  output { File total = gather.out  Array[File] parts = shard.out }
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

FAILING = """version 1.0
workflow breaks {
  call ok
  call boom { input: after = ok.done }
}
task ok { command <<< echo fine >>> output { String done = read_string(stdout()) } }
task boom { input { String after } command <<< echo "about to fail" >&2; exit 3 >>> }
"""

SLEEPY = """version 1.0
workflow sleepy {
  input { Int seconds = 300 }
  call nap { input: seconds = seconds }
  output { String said = nap.said }
}
task nap {
  input { Int seconds }
  command <<< sleep ~{seconds}; echo woke >>>
  output { String said = read_string(stdout()) }
}
"""


def test_hello_world_completes_with_outputs_tasks_and_logs(omics: Any, e2e_settings: Any) -> None:
    wid = register(omics, {"main.wdl": HELLO}, name="hello")
    started = start(omics, wid, name="first", parameters={"name": "omics", "times": 2}, tags={"k": "v"})
    assert_matches_output_shape("StartRun", {k: v for k, v in started.items() if k != "ResponseMetadata"})
    assert started["status"] == "PENDING"
    assert started["runOutputUri"] == f"s3://results/runs/{started['id']}"
    assert started["networkingMode"] == "RESTRICTED"

    run = wait_run(omics, started["id"])
    assert_matches_output_shape("GetRun", {k: v for k, v in run.items() if k != "ResponseMetadata"})
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    assert run["name"] == "first" and run["tags"] == {"k": "v"}
    assert run["digest"].startswith("sha256:")
    assert run["startedBy"].startswith("arn:aws:iam::")
    assert run["creationTime"] <= run["startTime"] <= run["stopTime"]
    assert run["logLocation"]["runLogStream"].endswith(f":log-stream:run/{run['id']}")
    assert run["logLocation"]["engineLogStream"].endswith(f":log-stream:run/{run['id']}/engine")
    assert run["outputUriPrefixMode"] == "SERVICE_DEFINED"

    buckets = Path(e2e_settings.buckets_path) / "results" / "runs" / run["id"]
    assert (buckets / "out" / "greeting" / "greeting.txt").read_text() == "Hello, omics!\nHello, omics!\n"
    summary = json.loads((buckets / "logs" / "outputs.json").read_text())
    assert summary["hello.count"] == 2
    assert summary["hello.greeting"].startswith("s3://results/runs/")

    (task,) = all_tasks(omics, run["id"])
    assert task["name"] == "call-greet"
    assert (task["cpus"], task["memory"], task["instanceType"]) == (3, 10, "omics.m.xlarge")
    detail = omics.get_run_task(id=run["id"], taskId=task["taskId"])
    assert_matches_output_shape("GetRunTask", {k: v for k, v in detail.items() if k != "ResponseMetadata"})
    assert detail["status"] == "COMPLETED"
    assert detail["logStream"].endswith(f"run/{run['id']}/task/{task['taskId']}")

    logs = Path(e2e_settings.data_path) / "logs"
    assert any(logs.rglob("*")), "log streams were written"


def test_scatter_gather_fifty_tasks(omics: Any, e2e_settings: Any) -> None:
    wid = register(omics, {"main.wdl": SCATTER})
    run = wait_run(omics, start(omics, wid, parameters={"n": 50})["id"], timeout=300)
    assert run["status"] == "COMPLETED", run.get("statusMessage")
    tasks = all_tasks(omics, run["id"])
    assert len(tasks) == 51
    names = {t["name"] for t in tasks}
    assert {f"call-shard-{i}" for i in range(50)} <= names
    assert "call-gather" in names
    assert all(t["status"] == "COMPLETED" for t in tasks)
    total = Path(e2e_settings.buckets_path) / "results" / "runs" / run["id"] / "out" / "total" / "total.txt"
    assert total.read_text().strip() == str(sum(range(50)))
    page = omics.list_run_tasks(id=run["id"], maxResults=10)
    assert len(page["items"]) == 10 and page["nextToken"]
    assert omics.list_run_tasks(id=run["id"], status="FAILED")["items"] == []


def test_failing_task_fails_the_run_naming_the_task(omics: Any) -> None:
    wid = register(omics, {"main.wdl": FAILING})
    run = wait_run(omics, start(omics, wid)["id"])
    assert run["status"] == "FAILED"
    assert run["failureReason"] == "RUN_TASK_FAILED"
    assert "call-boom" in run["statusMessage"] and "3" in run["statusMessage"]
    failed = [t for t in all_tasks(omics, run["id"]) if t["status"] == "FAILED"]
    assert [t["name"] for t in failed] == ["call-boom"]


def test_cancel_a_long_task(omics: Any) -> None:
    wid = register(omics, {"main.wdl": SLEEPY})
    run_id = start(omics, wid)["id"]
    deadline = time.monotonic() + 60
    while not any(t["status"] == "RUNNING" for t in all_tasks(omics, run_id)):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    omics.cancel_run(id=run_id)
    began = time.monotonic()
    run = wait_run(omics, run_id, timeout=30)
    assert run["status"] == "CANCELLED"
    assert time.monotonic() - began < 15
    assert all(t["status"] == "CANCELLED" for t in all_tasks(omics, run_id))
    with pytest.raises(omics.exceptions.ConflictException):
        omics.cancel_run(id=run_id)
    omics.delete_run(id=run_id)
    with pytest.raises(omics.exceptions.ResourceNotFoundException):
        omics.get_run(id=run_id)


def test_rerun_copies_settings_and_overrides(omics: Any) -> None:
    wid = register(omics, {"main.wdl": HELLO})
    first = wait_run(omics, start(omics, wid, name="orig", priority=5, parameters={"name": "a"})["id"])
    rerun = omics.start_run(
        runId=first["id"], roleArn=first["roleArn"], outputUri="s3://results/again/", parameters={"name": "b"}
    )
    second = wait_run(omics, rerun["id"])
    assert second["status"] == "COMPLETED"
    assert second["runId"] == first["id"]
    assert (second["workflowId"], second["name"], second["priority"]) == (wid, "orig", 5)
    assert second["parameters"] == {"name": "b"}


def test_start_run_validation(omics: Any) -> None:
    wid = register(omics, {"main.wdl": HELLO})
    with pytest.raises(omics.exceptions.ValidationException, match="unknown_param") as info:
        start(omics, wid, parameters={"name": "x", "unknown_param": 1})
    with pytest.raises(omics.exceptions.ValidationException, match="name"):
        start(omics, wid, parameters={})
    assert "required" in str(info.value) or "not defined" in str(info.value)
    with pytest.raises(omics.exceptions.ValidationException, match="s3://"):
        start(omics, wid, parameters={"name": "x"}, outputUri="/tmp/out")
    with pytest.raises(omics.exceptions.ValidationException, match="roleArn"):
        start(omics, wid, parameters={"name": "x"}, roleArn="arn:aws:iam::123456789012:user/bob")
    with pytest.raises(omics.exceptions.ValidationException, match="exactly one"):
        omics.start_run(roleArn="arn:aws:iam::123456789012:role/r", outputUri="s3://b/o")
    with pytest.raises(omics.exceptions.ResourceNotFoundException):
        start(omics, "7654321", parameters={"name": "x"})
    with pytest.raises(omics.exceptions.ResourceNotFoundException, match="Run group"):
        start(omics, wid, parameters={"name": "x"}, runGroupId="1234567")
    with pytest.raises(omics.exceptions.ValidationException, match="logLevel"):
        start(omics, wid, parameters={"name": "x"}, logLevel="LOUD")
    with pytest.raises(omics.exceptions.ValidationException, match="cacheId"):
        start(omics, wid, parameters={"name": "x"}, cacheBehavior="CACHE_ALWAYS")
    assert omics.list_runs()["items"] == []


def test_static_storage_is_rounded(omics: Any) -> None:
    wid = register(omics, {"main.wdl": HELLO})
    run = start(omics, wid, parameters={"name": "x"}, storageType="STATIC", storageCapacity=1300)
    got = omics.get_run(id=run["id"])
    assert (got["storageType"], got["storageCapacity"]) == ("STATIC", 2400)
    assert wait_run(omics, run["id"])["status"] == "COMPLETED"


def test_idempotent_retries_even_concurrent(omics: Any) -> None:
    wid = register(omics, {"main.wdl": HELLO})
    results: list[str] = []

    def attempt() -> None:
        results.append(start(omics, wid, parameters={"name": "x"}, requestId="same-token")["id"])

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert [r["id"] for r in omics.list_runs()["items"]] == results[:1]
    wait_run(omics, results[0])


def test_list_runs_filters_and_pages(omics: Any) -> None:
    wid = register(omics, {"main.wdl": HELLO})
    ids = [start(omics, wid, name=f"r{i % 2}", parameters={"name": "x"})["id"] for i in range(3)]
    for run_id in ids:
        wait_run(omics, run_id)
    assert {r["id"] for r in omics.list_runs(name="r0")["items"]} == {ids[0], ids[2]}
    assert len(omics.list_runs(status="COMPLETED")["items"]) == 3
    first = omics.list_runs(maxResults=2)
    assert [r["id"] for r in first["items"]] == [ids[2], ids[1]]
    rest = omics.list_runs(maxResults=2, startingToken=first["nextToken"])
    assert [r["id"] for r in rest["items"]] == [ids[0]] and "nextToken" not in rest
    for item in first["items"]:
        assert_matches_output_shape("ListRuns", {"items": [item]})


def test_restricted_task_cannot_reach_a_local_socket(omics: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    probe = f"""version 1.0
workflow probe {{
  call connect
}}
task connect {{
  command <<<
    python3 -c 'import socket; socket.create_connection(("127.0.0.1", {port}), timeout=3); print("connected")'
  >>>
}}
"""
    try:
        wid = register(omics, {"main.wdl": probe})
        run = wait_run(omics, start(omics, wid)["id"])
    finally:
        listener.close()
    assert run["status"] == "FAILED"
    assert run["failureReason"] == "RUN_TASK_FAILED"


def test_delete_rules(omics: Any) -> None:
    wid = register(omics, {"main.wdl": SLEEPY})
    run_id = start(omics, wid, parameters={"seconds": 60})["id"]
    with pytest.raises(omics.exceptions.ConflictException):
        omics.delete_run(id=run_id)
    omics.cancel_run(id=run_id)
    wait_run(omics, run_id)
    omics.delete_run(id=run_id)
    with pytest.raises(omics.exceptions.ResourceNotFoundException):
        omics.delete_run(id=run_id)
    assert omics.list_runs()["items"] == []
