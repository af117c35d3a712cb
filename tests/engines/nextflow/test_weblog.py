import json
import urllib.error
import urllib.request

import pytest

from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    TaskCreated,
    TaskFinished,
    TaskMetrics,
    TaskRunning,
    TaskStarting,
)
from omicsd.engines.nextflow._tasks import TaskTracker
from omicsd.engines.nextflow._weblog import WeblogServer, parse_message
from tests.engines.nextflow.nf_support import EVENTS_DIR

BWA = "quay.io/biocontainers/bwa:0.7.17--h7132678_9"
T0 = 1717236000.0


def _lines(name):
    return [line for line in (EVENTS_DIR / name).read_text().splitlines() if line.strip()]


def _post(url, body, content_type="application/json"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exn:
        return exn.code


def test_parse_message_reads_every_documented_field():
    first, submitted, *_, last = _lines("weblog_failure.jsonl")
    started = parse_message(first)
    assert started.event == "started" and started.time == T0 and started.run_name == "silly_turing"
    assert started.trace is None and started.metadata["workflow"]["nextflow"]["version"] == "24.10.8"
    message = parse_message(submitted.encode())
    assert message.event == "process_submitted" and message.time == T0 + 1
    assert message.trace["name"] == "PREPARE" and message.metadata is None
    assert parse_message(last).metadata["workflow"]["exitStatus"] == 1
    assert parse_message('{"event": "started", "utcTime": "2024-06-01T10:00:00"}').time == T0  # naive is UTC
    assert parse_message('{"event": "completed", "utcTime": "not a time"}').time is None


@pytest.mark.parametrize("body", ["[]", '{"trace": {}}', '{"event": 3}', "not json"])
def test_parse_message_rejects_malformed_bodies(body):
    with pytest.raises(ValueError):
        parse_message(body)


def test_server_delivers_posts_in_order_on_loopback():
    received = []
    with WeblogServer(received.append) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/")
        for line in _lines("weblog_success.jsonl"):
            assert _post(server.url, line.encode()) == 200
        assert _post(server.url, b"{oops") == 400
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert response.status == 200
        assert server.received == 23
    assert [m.event for m in received][:4] == ["started", "process_submitted", "process_started", "process_completed"]
    assert received[-1].event == "completed" and received[-1].metadata["workflow"]["success"] is True
    with pytest.raises(urllib.error.URLError):
        _post(server.url, b"{}")


def test_server_reports_a_failing_callback_as_500():
    def explode(message):
        raise RuntimeError("boom")

    with WeblogServer(explode) as server:
        assert _post(server.url, b'{"event": "started"}') == 500
        assert server.received == 0


def test_recorded_stream_maps_to_exact_journal_events():
    """PREPARE, a scatter of 4 ALIGN tasks (sample_3 fails, sample_4 is still running) and a MERGE never run."""
    events = []
    ids = iter(str(n) for n in range(1000001, 1000100))
    tracker = TaskTracker(events.append, new_task_id=lambda: next(ids), clock=lambda: T0 + 23)
    with WeblogServer(tracker.on_weblog) as server:
        for line in _lines("weblog_failure.jsonl"):
            assert _post(server.url, line.encode()) == 200
    tracker.settle(CANCELLED, "Task cancelled because the run stopped")

    def align(n, submit):
        return TaskCreated(str(1000001 + n), f"ALIGN (sample_{n})", 4, 8, 0, "omics.c.xlarge", BWA, submit)

    def align_metrics(running):
        return TaskMetrics(
            cpus_max=3.902, cpus_avg=3.902, memory_max_gib=4.0, memory_avg_gib=3.0, running_seconds=running
        )

    assert events == [
        TaskCreated("1000001", "PREPARE", 1, 2, 0, "omics.c.large", "ubuntu:22.04", T0 + 1),
        TaskStarting("1000001", T0 + 1),
        TaskRunning("1000001", T0 + 2),
        TaskFinished("1000001", COMPLETED, T0 + 5, 0, metrics=TaskMetrics(0.985, 0.985, 0.1953, 0.0977, 3.0)),
        align(1, T0 + 6),
        TaskStarting("1000002", T0 + 6),
        align(2, T0 + 6.1),
        TaskStarting("1000003", T0 + 6.1),
        align(3, T0 + 6.2),
        TaskStarting("1000004", T0 + 6.2),
        align(4, T0 + 6.3),
        TaskStarting("1000005", T0 + 6.3),
        TaskRunning("1000002", T0 + 7),
        TaskRunning("1000003", T0 + 7.1),
        TaskRunning("1000004", T0 + 7.2),
        TaskRunning("1000005", T0 + 7.3),
        TaskFinished(
            "1000004",
            FAILED,
            T0 + 15,
            1,
            "RUN_TASK_FAILED",
            "Task ALIGN (sample_3) failed with exit status 1",
            TaskMetrics(cpus_max=0.12, cpus_avg=0.12, memory_max_gib=1.0, memory_avg_gib=1.0, running_seconds=7.8),
        ),
        TaskFinished("1000002", COMPLETED, T0 + 20, 0, metrics=align_metrics(13.0)),
        TaskFinished("1000003", COMPLETED, T0 + 21, 0, metrics=align_metrics(13.9)),
        TaskFinished("1000005", CANCELLED, T0 + 23, status_message="Task cancelled because the run stopped"),
    ]
    failure = tracker.failure()
    assert failure is not None and failure.task_id == "1000004" and not failure.handled
    assert tracker.workflow_error.startswith("Error executing process > 'ALIGN (sample_3)'")
    assert tracker.nextflow_version == "24.10.8"


def test_recorded_stream_with_a_retried_task_keeps_every_attempt():
    events = []
    tracker = TaskTracker(events.append)
    for line in _lines("weblog_success.jsonl"):
        tracker.on_weblog(parse_message(line))
    created = [e for e in events if isinstance(e, TaskCreated)]
    finished = {e.task_id: e for e in events if isinstance(e, TaskFinished)}
    assert [c.name for c in created] == [
        "PREPARE",
        "ALIGN (1)",
        "ALIGN (2)",
        "ALIGN (3)",
        "ALIGN (4)",
        "ALIGN (3)",
        "MERGE",
    ]
    assert len({c.task_id for c in created}) == 7 and all(len(c.task_id) == 7 for c in created)
    first, retry = (c for c in created if c.name == "ALIGN (3)")
    assert finished[first.task_id].status == FAILED and finished[first.task_id].exit_status == 137
    assert finished[first.task_id].failure_reason == "OUT_OF_MEMORY_ERROR"
    assert (retry.memory_gib, retry.instance_type) == (16, "omics.m.xlarge")
    assert finished[retry.task_id].status == COMPLETED
    merge = created[-1]
    assert (merge.cpus, merge.memory_gib, merge.instance_type) == (2, 16, "omics.r.large")
    assert tracker.open_tasks == 0 and tracker.workflow_error == ""
    failure = tracker.failure()
    assert failure is not None and failure.handled  # retried: not what stops a run


def test_messages_without_a_task_change_nothing():
    events = []
    tracker = TaskTracker(events.append)
    tracker.on_weblog(parse_message(json.dumps({"event": "process_submitted", "trace": {"name": "no id"}})))
    tracker.on_weblog(parse_message(json.dumps({"event": "error", "metadata": {"workflow": "odd"}})))
    assert events == [] and tracker.workflow_error == ""
