import json

import pytest

from omicsd.engines import events
from omicsd.engines.events import (
    EventDecodeError,
    InputsStaged,
    RunFinished,
    RunOutputs,
    RunStarted,
    TaskCreated,
    TaskFinished,
    TaskMetrics,
    TaskRunning,
    TaskStarting,
    decode,
    encode,
)

SAMPLES = [
    RunStarted(time=1.5, engine_version="miniwdl 1.16.0"),
    InputsStaged(time=2.0, resource_digests={"s3://b/k": "etag:abc"}),
    TaskCreated(
        task_id="1234567",
        name="call-x-3",
        cpus=2,
        memory_gib=4,
        gpus=0,
        instance_type="omics.c.large",
        image="ubuntu:22.04",
        time=3.25,
    ),
    TaskStarting(task_id="1234567", time=4.0),
    TaskRunning(task_id="1234567", time=4.5),
    TaskFinished(
        task_id="1234567",
        status="FAILED",
        time=5.0,
        exit_status=3,
        failure_reason="RUN_TASK_FAILED",
        status_message="Task call-x-3 failed with exit status 3",
        metrics=TaskMetrics(cpus_max=1.0, cpus_avg=0.5, memory_max_gib=0.25, memory_avg_gib=0.1, running_seconds=0.5),
    ),
    RunOutputs(outputs={"wf.out": "s3://b/run/out/out/x.txt", "wf.n": 3}, outputs_uri="s3://b/run/logs/outputs.json"),
    RunFinished(status="COMPLETED", time=6.0, storage_max_bytes=4096),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_round_trip(event):
    line = encode(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == event


def test_type_names_are_stable():
    assert [e.type for e in SAMPLES] == [
        "run.started",
        "inputs.staged",
        "task.created",
        "task.starting",
        "task.running",
        "task.finished",
        "run.outputs",
        "run.finished",
    ]
    body = json.loads(encode(SAMPLES[5]))
    assert next(iter(body)) == "type"
    assert body["metrics"] == {
        "cpus_max": 1.0,
        "cpus_avg": 0.5,
        "memory_max_gib": 0.25,
        "memory_avg_gib": 0.1,
        "running_seconds": 0.5,
    }


def test_unknown_keys_are_ignored():
    event = decode('{"type":"task.running","task_id":"1","time":2.0,"added_later":true}')
    assert event == TaskRunning(task_id="1", time=2.0)
    finished = decode('{"type":"task.finished","task_id":"1","status":"COMPLETED","time":1,"metrics":{"new":1}}')
    assert isinstance(finished, TaskFinished) and finished.metrics == TaskMetrics()


def test_defaults_fill_optional_fields():
    event = decode('{"type":"run.finished","status":"CANCELLED","time":1.0}')
    assert event == RunFinished(status="CANCELLED", time=1.0, failure_reason="", status_message="", storage_max_bytes=0)


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1,2]", b'{"type":"nope"}', b'{"time":1}', b'{"type":"task.running","time":1}'],
)
def test_bad_lines_raise(line):
    with pytest.raises(EventDecodeError):
        decode(line)


def test_every_event_type_is_registered():
    assert set(events.EVENT_TYPES) == {e.type for e in SAMPLES}
