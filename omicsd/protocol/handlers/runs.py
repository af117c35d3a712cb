"""Wire mapping of the run and task operations (StartRun, GetRun, ListRuns, CancelRun, DeleteRun, tasks).

Owns: turning parsed members into run/task service calls and records into output members.
Must not: hold business rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.domain.runs import RunRecord
from omicsd.domain.tasks import TaskRecord
from omicsd.logs import streams
from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact, export_url
from omicsd.services import Services
from omicsd.services.runs import RunListItem, RunView


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    runs, tasks = services.runs, services.tasks

    def start_run(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = runs.start(services.caller(ctx.access_key_id), p)
        r = view.record
        return compact(
            {
                "arn": view.arn,
                "id": r.id,
                "status": r.status.value,
                "tags": view.tags,
                "uuid": r.uuid,
                "runOutputUri": r.run_output_uri,
                "networkingMode": r.networking_mode,
                "configuration": _configuration(services, r),
            }
        )

    def get_run(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = runs.get(p["id"])
        out = _run_details(services, view)
        if "DEFINITION" in (p.get("export") or []) and view.record.digest:
            record = view.record
            parts: tuple[str, ...] = ("workflow", record.workflow_id)
            if record.workflow_version_name:
                parts += ("version", record.workflow_version_name)
            out["definition"] = export_url(ctx.base_url, *parts, "definition.zip")
        return out

    def list_runs(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = runs.list(
            name=p.get("name"),
            run_group_id=p.get("runGroupId"),
            batch_id=p.get("batchId"),
            status=p.get("status"),
            token=p.get("startingToken"),
            max_results=p.get("maxResults"),
        )
        return compact({"items": [_run_item(v) for v in page.items], "nextToken": page.next_token})

    def cancel_run(ctx: RequestContext, p: dict[str, Any]) -> None:
        runs.cancel(p["id"])

    def delete_run(ctx: RequestContext, p: dict[str, Any]) -> None:
        runs.delete(p["id"])

    def get_run_task(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = tasks.get(p["id"], p["taskId"])
        t = view.record
        details = compact({"image": t.image, "imageDigest": t.image_digest, "sourceImage": t.image})
        return compact(
            {
                **_task_item(t),
                "statusMessage": t.status_message,
                "failureReason": t.failure_reason,
                "logStream": view.log_stream,
                "imageDetails": details or None,
            }
        )

    def list_run_tasks(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = tasks.list(
            p["id"], status=p.get("status"), token=p.get("startingToken"), max_results=p.get("maxResults")
        )
        return compact({"items": [_task_item(t) for t in page.items], "nextToken": page.next_token})

    return {
        "StartRun": start_run,
        "GetRun": get_run,
        "ListRuns": list_runs,
        "CancelRun": cancel_run,
        "DeleteRun": delete_run,
        "GetRunTask": get_run_task,
        "ListRunTasks": list_run_tasks,
    }


def _configuration(services: Services, record: RunRecord) -> dict[str, Any] | None:
    if not record.configuration_name:
        return None
    return services.configurations.describe_for_run(record.configuration_name)


def _run_item(view: RunView | RunListItem) -> dict[str, Any]:
    r = view.record
    return compact(
        {
            "arn": view.arn,
            "id": r.id,
            "status": r.status.value,
            "workflowId": r.workflow_id,
            "batchId": r.batch_id,
            "name": r.name,
            "priority": r.priority,
            "storageCapacity": r.storage_capacity,
            "storageType": r.storage_type,
            "creationTime": r.creation_time,
            "startTime": r.start_time,
            "stopTime": r.stop_time,
            "workflowVersionName": r.workflow_version_name,
            "workflowName": r.workflow_name,
        }
    )


def _run_details(services: Services, view: RunView) -> dict[str, Any]:
    r = view.record
    arns = services.arns

    def stream(name: str) -> str:
        return streams.stream_arn(arns.region, arns.account_id, streams.LOG_GROUP, name)

    return compact(
        {
            "arn": view.arn,
            "id": r.id,
            "status": r.status.value,
            "workflowId": r.workflow_id,
            "batchId": r.batch_id,
            "name": r.name,
            "priority": r.priority,
            "storageCapacity": r.storage_capacity,
            "storageType": r.storage_type,
            "creationTime": r.creation_time,
            "startTime": r.start_time,
            "stopTime": r.stop_time,
            "workflowVersionName": r.workflow_version_name,
            "uuid": r.uuid,
            "cacheId": r.cache_id,
            "cacheBehavior": r.cache_behavior,
            "engineVersion": r.engine_version,
            "workflowType": r.workflow_type,
            "runId": r.source_run_id,
            "roleArn": r.role_arn,
            "runGroupId": r.run_group_id,
            "digest": r.digest,
            "parameters": r.parameters,
            "outputUri": r.output_uri,
            "logLevel": r.log_level,
            "resourceDigests": r.resource_digests or None,
            "startedBy": r.started_by,
            "statusMessage": r.status_message,
            "tags": view.tags,
            "accelerators": r.accelerators,
            "retentionMode": r.retention_mode,
            "failureReason": r.failure_reason,
            "logLocation": {
                "engineLogStream": stream(streams.engine_stream(r.id)),
                "runLogStream": stream(streams.run_stream(r.id)),
            },
            "runOutputUri": r.run_output_uri,
            "workflowOwnerId": r.workflow_owner_id,
            "workflowUuid": r.workflow_uuid,
            "networkingMode": r.networking_mode,
            "scratchStorageMode": r.scratch_storage_mode,
            "configuration": _configuration(services, r),
            "vpcConfig": services.configurations.vpc_config(r.configuration_name) if r.configuration_name else None,
            "engineSettings": r.engine_settings,
            "sessionPolicy": r.session_policy,
            "outputUriPrefixMode": r.output_uri_prefix_mode or "SERVICE_DEFINED",
        }
    )


def _task_item(t: TaskRecord) -> dict[str, Any]:
    return compact(
        {
            "taskId": t.task_id,
            "status": t.status.value,
            "name": t.name,
            "cpus": t.cpus,
            "memory": t.memory,
            "gpus": t.gpus,
            "cacheHit": t.cache_hit,
            "cacheS3Uri": t.cache_s3_uri,
            "creationTime": t.creation_time,
            "startTime": t.start_time,
            "stopTime": t.stop_time,
            "instanceType": t.instance_type,
            "uuid": t.uuid,
        }
    )
