"""The run manifest: one JSON log event for the run, then one per task attempt, written when a run ends.

Owns: :func:`manifest_records` (the records, with the keys HealthOmics writes and aws-healthomics-tools
reads) and :func:`write_manifest` (appends them to stream ``manifest/run/<id>/<uuid>`` of the workflow log
group, once, unless the run's ``logLevel`` is ``OFF``, and notes the estimated cost in the run's log).

Record conventions: timestamps are ISO-8601 UTC with milliseconds and ``Z`` (``2024-01-02T03:04:05.123Z``,
which ``%Y-%m-%dT%H:%M:%S.%fZ`` parses); absent values are left out; a run's own record has ``run`` only
when it was started from another run (``rerun`` then reruns that one). Task ``metrics`` hold the resources
reserved (the instance type's vCPUs, GiB and GPUs) and those measured from the task's processes while it ran
(maximum and average vCPUs and GiB), its running seconds and its estimated cost. Run ``metrics`` hold the run
storage reserved, maximum and average (omicsd measures the maximum only and reports it as the average too,
an upper bound), the running seconds and the estimated cost of the whole run.
Must not: decide when a run has ended (the caller does) or change any record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from omicsd.domain.ids import Arns
from omicsd.domain.instance_types import CPU_FAMILIES, CPU_SIZES, GPU_FAMILIES
from omicsd.domain.runs import RunRecord
from omicsd.domain.tasks import TaskRecord
from omicsd.logs import streams
from omicsd.logs.files import LogReader, LogWriter
from omicsd.services.pricing import GIB, PriceList, RunCost, estimate_run_costs, task_running_seconds
from omicsd.store import Store
from omicsd.store import tasks as task_store

logger = logging.getLogger(__name__)


def manifest_records(
    run: RunRecord, tasks: Sequence[TaskRecord], *, arns: Arns, prices: PriceList | None = None
) -> list[dict[str, Any]]:
    """The manifest of a finished run: its record first, then one record per task attempt in creation order."""
    cost = estimate_run_costs(run, tasks, prices=prices, region=arns.region)
    records = [_run_record(run, arns, cost)]
    for task in sorted(tasks, key=lambda t: t.seq):
        records.append(_task_record(task, run, arns, cost))
    return records


def write_manifest(
    run: RunRecord,
    tasks: Sequence[TaskRecord],
    *,
    arns: Arns,
    writer: LogWriter,
    prices: PriceList | None = None,
) -> str | None:
    """Write the manifest of a finished run; returns its stream name (``None`` when ``logLevel`` is OFF).

    Idempotent: a manifest that already has events is left alone, so replaying a run's end writes nothing.

    Args:
        run: The run, in a terminal state.
        tasks: Every task attempt of the run.
        arns: ARNs of this Region and account.
        writer: The log writer of the server's log directory.
        prices: The price list for the cost estimate (default: the one omicsd ships).
    """
    if (run.log_level or "").upper() == "OFF":
        return None
    group = streams.LOG_GROUP
    stream = streams.manifest_stream(run.id, run.uuid)
    reader = LogReader(writer.root)
    if reader.exists(group, stream) and reader.stream_info(group, stream).last_event_ms is not None:
        return stream
    records = manifest_records(run, tasks, arns=arns, prices=prices)
    writer.append(group, stream, [json.dumps(r, separators=(",", ":"), default=str) for r in records])
    total = records[0]["metrics"].get("estimatedCostUSD", 0.0)
    writer.append(
        group,
        streams.run_stream(run.id),
        [f"Run {run.id} estimated HealthOmics cost: ${total:.4f} (list prices; run manifest {stream})"],
    )
    logger.info("run.manifest_written id=%s stream=%s tasks=%d", run.id, stream, len(tasks))
    return stream


def format_time(value: datetime | None) -> str | None:
    """``2024-01-02T03:04:05.123Z`` (UTC, milliseconds), or ``None``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# -- records in manifest order ----------------------------------------------------------------------------------


def _run_record(run: RunRecord, arns: Arns, cost: RunCost) -> dict[str, Any]:
    maximum = round((run.storage_max_bytes or 0) / GIB, 6)
    reserved = run.storage_capacity if run.storage_type == "STATIC" else max(run.storage_capacity or 0, maximum)
    metrics = {
        "storageReservedGiB": reserved,
        "storageMaximumGiB": maximum,
        "storageAverageGiB": maximum,
        "runningSeconds": _seconds(run.start_time, run.stop_time),
        "estimatedCostUSD": round(cost.total, 6),
        "estimatedStorageCostUSD": round(cost.storage, 6),
    }
    return _compact(
        {
            "arn": arns.of("run", run.id),
            "uuid": run.uuid,
            "name": run.name,
            "status": run.status.value,
            "statusMessage": run.status_message,
            "failureReason": run.failure_reason,
            "workflow": _workflow_arn(run, arns),
            "workflowVersion": _workflow_version_arn(run, arns),
            "workflowType": run.workflow_type,
            "workflowOwnerId": run.workflow_owner_id,
            "run": arns.of("run", run.source_run_id) if run.source_run_id else None,
            "runGroup": arns.of("runGroup", run.run_group_id) if run.run_group_id else None,
            "runCache": arns.of("runCache", run.cache_id) if run.cache_id else None,
            "runCacheBehavior": run.cache_behavior,
            "priority": run.priority,
            "roleArn": run.role_arn,
            "startedBy": run.started_by,
            "outputUri": run.output_uri,
            "runOutputUri": run.run_output_uri,
            "parameters": run.parameters,
            "resourceDigests": run.resource_digests or None,
            "digest": run.digest,
            "engine": run.engine,
            "engineVersion": run.engine_version,
            "main": run.main,
            "logLevel": run.log_level,
            "retentionMode": run.retention_mode,
            "networkingMode": run.networking_mode,
            "storageType": run.storage_type,
            "storageCapacity": run.storage_capacity,
            "creationTime": format_time(run.creation_time),
            "startTime": format_time(run.start_time),
            "stopTime": format_time(run.stop_time),
            "metrics": metrics,
        }
    )


def _task_record(task: TaskRecord, run: RunRecord, arns: Arns, cost: RunCost) -> dict[str, Any]:
    cpus, memory, gpus = _reserved(task)
    measured = task.metrics or {}
    metrics: dict[str, Any] = {
        "cpusReserved": cpus,
        "cpusMaximum": _number(measured.get("cpus_max")),
        "cpusAverage": _number(measured.get("cpus_avg")),
        "gpusReserved": gpus,
        "memoryReservedGiB": memory,
        "memoryMaximumGiB": _number(measured.get("memory_max_gib"), 6),
        "memoryAverageGiB": _number(measured.get("memory_avg_gib"), 6),
        "runningSeconds": round(task_running_seconds(task), 3),
        "estimatedCostUSD": round(cost.tasks.get(task.task_id, 0.0), 6),
    }
    return _compact(
        {
            "arn": arns.task(task.task_id),
            "run": arns.of("run", run.id),
            "uuid": task.uuid,
            "name": task.name,
            "status": task.status.value,
            "cpus": task.cpus,
            "memory": task.memory,
            "gpus": task.gpus,
            "instanceType": task.instance_type,
            "image": task.image,
            "imageDigest": task.image_digest,
            "cacheHit": task.cache_hit,
            "creationTime": None if task.cache_hit else format_time(task.creation_time),
            "startTime": format_time(task.start_time),
            "stopTime": format_time(task.stop_time),
            "failureReason": task.failure_reason,
            "statusMessage": task.status_message,
            "metrics": _compact(metrics),
        }
    )


# -- helpers ----------------------------------------------------------------------------------------------------


def _workflow_arn(run: RunRecord, arns: Arns) -> str:
    if run.workflow_type == "READY2RUN":
        return f"arn:aws:omics:{arns.region}::workflow/{run.workflow_id}"
    owner = run.workflow_owner_id or arns.account_id
    return f"arn:aws:omics:{arns.region}:{owner}:workflow/{run.workflow_id}"


def _workflow_version_arn(run: RunRecord, arns: Arns) -> str | None:
    if not run.workflow_version_name:
        return None
    return f"{_workflow_arn(run, arns)}/version/{run.workflow_version_name}"


def _reserved(task: TaskRecord) -> tuple[int, int, int]:
    """vCPUs, GiB and GPUs of the task's instance type (its requests when the type is unknown)."""
    parts = (task.instance_type or "").split(".")
    if len(parts) == 3 and parts[0] == "omics":
        family, size = parts[1], parts[2]
        per_cpu = dict(CPU_FAMILIES).get(family)
        vcpus = dict(CPU_SIZES).get(size)
        if per_cpu is not None and vcpus is not None:
            return vcpus, vcpus * per_cpu, 0
        for name, cpus, gib, gpus in GPU_FAMILIES.get(family, ()):
            if name == size:
                return cpus, gib, gpus
    return task.cpus, task.memory, task.gpus


def _seconds(start: datetime | None, stop: datetime | None) -> float | None:
    if start is None or stop is None:
        return None
    return round(max(0.0, (stop - start).total_seconds()), 3)


def _number(value: Any, digits: int = 4) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), digits)


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class ManifestWriter:
    """Writes a run's manifest once it reached a terminal state (hooked to ``RunService.finished``)."""

    def __init__(self, store: Store, *, arns: Arns, writer: LogWriter, prices: PriceList | None = None) -> None:
        self.store = store
        self.arns = arns
        self.writer = writer
        self.prices = prices

    def __call__(self, run: RunRecord) -> None:
        """Write the manifest of ``run`` with every task attempt it had."""
        with self.store.read() as conn:
            tasks = task_store.list_page(conn, run.id, status=None, after_seq=None, limit=1_000_000)
        try:
            write_manifest(run, tasks, arns=self.arns, writer=self.writer, prices=self.prices)
        except OSError:
            logger.warning("run.manifest_failed id=%s", run.id, exc_info=True)
