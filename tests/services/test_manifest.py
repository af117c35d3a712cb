from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omicsd.domain.ids import Arns
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RunStatus, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.logs.files import LogReader, LogWriter
from omicsd.services.manifest import format_time, manifest_records, write_manifest
from omicsd.services.pricing import estimate_run_cost

G = "/aws/omics/WorkflowLog"
ARNS = Arns(region="us-east-1", account_id="123456789012")
T0 = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
UUID = "0f7d1f0e-8c9b-4f47-9b0f-7d3c1f0e8c9b"


def _run(**values: Any) -> RunRecord:
    base: dict[str, Any] = {
        "id": "1234567",
        "uuid": UUID,
        "status": RunStatus.COMPLETED,
        "creation_time": T0,
        "start_time": T0 + timedelta(seconds=5),
        "stop_time": T0 + timedelta(minutes=30),
        "workflow_id": "7654321",
        "workflow_type": "PRIVATE",
        "workflow_version_name": "v2",
        "role_arn": "arn:aws:iam::123456789012:role/r",
        "output_uri": "s3://b/out/",
        "run_output_uri": "s3://b/out/1234567",
        "retention_mode": "RETAIN",
        "networking_mode": "RESTRICTED",
        "name": "hello",
        "parameters": {"name": "world"},
        "storage_type": "DYNAMIC",
        "storage_capacity": 3,
        "storage_max_bytes": 5 * 1024**3 // 2,
        "engine": "WDL",
        "main": "main.wdl",
        "digest": "sha256:abc",
        "resource_digests": {"s3://b/in.txt": "etag:1"},
        "started_by": "arn:aws:iam::123456789012:user/me",
        "log_level": "ALL",
        "priority": 5,
    }
    base.update(values)
    return RunRecord(**base)


def _task(task_id: str, seq: int, **values: Any) -> TaskRecord:
    base: dict[str, Any] = {
        "run_id": "1234567",
        "task_id": task_id,
        "uuid": f"uuid-{task_id}",
        "seq": seq,
        "name": f"greet-{seq}",
        "status": TaskStatus.COMPLETED,
        "cpus": 3,
        "memory": 10,
        "gpus": 0,
        "creation_time": T0 + timedelta(seconds=10 + seq),
        "instance_type": "omics.m.xlarge",
        "image": "ubuntu:22.04",
        "start_time": T0 + timedelta(seconds=20 + seq),
        "stop_time": T0 + timedelta(seconds=80 + seq),
        "metrics": {
            "cpus_max": 2.5,
            "cpus_avg": 1.25,
            "memory_max_gib": 0.75,
            "memory_avg_gib": 0.5,
            "running_seconds": 60.0,
        },
    }
    base.update(values)
    return TaskRecord(**base)


def test_timestamps_parse_as_aws_healthomics_tools_expects() -> None:
    text = format_time(T0)
    assert text == "2024-01-02T03:04:05.123Z"
    assert datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ") == datetime(2024, 1, 2, 3, 4, 5, 123000)
    assert format_time(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"
    assert format_time(None) is None


def test_run_record_then_one_record_per_task_in_creation_order() -> None:
    tasks = [_task("2222222", 2), _task("1111111", 1)]
    records = manifest_records(_run(), tasks, arns=ARNS)
    run, first, second = records
    assert run["arn"] == "arn:aws:omics:us-east-1:123456789012:run/1234567"
    assert run["workflow"] == "arn:aws:omics:us-east-1:123456789012:workflow/7654321"
    assert run["workflowVersion"] == "arn:aws:omics:us-east-1:123456789012:workflow/7654321/version/v2"
    assert "run" not in run and "runGroup" not in run and "runCache" not in run
    for key, value in {
        "uuid": UUID,
        "name": "hello",
        "status": "COMPLETED",
        "workflowType": "PRIVATE",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "outputUri": "s3://b/out/",
        "parameters": {"name": "world"},
        "resourceDigests": {"s3://b/in.txt": "etag:1"},
        "digest": "sha256:abc",
        "engine": "WDL",
        "main": "main.wdl",
        "storageType": "DYNAMIC",
        "storageCapacity": 3,
        "startedBy": "arn:aws:iam::123456789012:user/me",
        "creationTime": "2024-01-02T03:04:05.123Z",
        "startTime": "2024-01-02T03:04:10.123Z",
        "stopTime": "2024-01-02T03:34:05.123Z",
        "priority": 5,
        "logLevel": "ALL",
    }.items():
        assert run[key] == value, key
    assert run["metrics"]["storageMaximumGiB"] == 2.5
    assert run["metrics"]["storageAverageGiB"] == 2.5
    assert run["metrics"]["storageReservedGiB"] == 3
    assert run["metrics"]["runningSeconds"] == 1795.0
    assert run["metrics"]["estimatedCostUSD"] == pytest.approx(estimate_run_cost(_run(), tasks), abs=1e-6)
    assert [first["name"], second["name"]] == ["greet-1", "greet-2"]
    assert first["arn"] == "arn:aws:omics:us-east-1:123456789012:task/1111111"
    assert first["run"] == run["arn"]
    assert first["instanceType"] == "omics.m.xlarge" and first["cpus"] == 3 and first["memory"] == 10
    assert first["metrics"] == {
        "cpusReserved": 4,
        "cpusMaximum": 2.5,
        "cpusAverage": 1.25,
        "gpusReserved": 0,
        "memoryReservedGiB": 16,
        "memoryMaximumGiB": 0.75,
        "memoryAverageGiB": 0.5,
        "runningSeconds": 60.0,
        "estimatedCostUSD": pytest.approx(0.2592 / 60, abs=1e-6),
    }
    assert first["creationTime"] < first["startTime"] < first["stopTime"]
    assert records == json.loads(json.dumps(records))


def test_rerun_cache_group_gpu_and_cached_tasks() -> None:
    run = _run(source_run_id="7777777", run_group_id="5555555", cache_id="4444444", cache_behavior="CACHE_ALWAYS")
    gpu = _task("3", 1, instance_type="omics.g5.12xlarge", gpus=4, cpus=40, memory=150)
    cached = _task("4", 2, cache_hit=True, start_time=None, stop_time=None, metrics=None)
    record, gpu_record, cached_record = manifest_records(run, [gpu, cached], arns=ARNS)
    assert record["run"] == "arn:aws:omics:us-east-1:123456789012:run/7777777"
    assert record["runGroup"] == "arn:aws:omics:us-east-1:123456789012:runGroup/5555555"
    assert record["runCache"] == "arn:aws:omics:us-east-1:123456789012:runCache/4444444"
    assert record["runCacheBehavior"] == "CACHE_ALWAYS"
    assert gpu_record["metrics"]["cpusReserved"] == 48 and gpu_record["metrics"]["gpusReserved"] == 4
    assert gpu_record["metrics"]["memoryReservedGiB"] == 192
    assert "creationTime" not in cached_record and "startTime" not in cached_record
    assert cached_record["metrics"]["estimatedCostUSD"] == 0
    ready = manifest_records(_run(workflow_type="READY2RUN", workflow_version_name=None), [], arns=ARNS)[0]
    assert ready["workflow"] == "arn:aws:omics:us-east-1::workflow/7654321" and "workflowVersion" not in ready


def test_write_manifest_once_and_note_the_cost(tmp_path: Path) -> None:
    writer, reader = LogWriter(tmp_path / "logs"), LogReader(tmp_path / "logs")
    tasks = [_task("1111111", 1)]
    stream = write_manifest(_run(), tasks, arns=ARNS, writer=writer)
    assert stream == f"manifest/run/1234567/{UUID}"
    events = reader.read(G, stream).events
    assert [json.loads(e.message)["arn"].rsplit(":", 1)[1] for e in events] == ["run/1234567", "task/1111111"]
    assert write_manifest(_run(), tasks, arns=ARNS, writer=writer) == stream
    assert len(reader.read(G, stream).events) == 2
    notes = [e.message for e in reader.read(G, "run/1234567").events]
    assert len(notes) == 1 and notes[0].startswith("Run 1234567 estimated HealthOmics cost: $")


def test_log_level_off_writes_no_manifest(tmp_path: Path) -> None:
    writer, reader = LogWriter(tmp_path / "logs"), LogReader(tmp_path / "logs")
    assert write_manifest(_run(log_level="OFF"), [_task("1", 1)], arns=ARNS, writer=writer) is None
    assert reader.list_groups() == []
