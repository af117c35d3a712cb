"""Wire mapping of the run batch operations (StartRunBatch, Get/ListBatch, ListRunsInBatch, Cancel/Delete...).

Owns: turning parsed members into batch service calls and records into output members.
Must not: hold business rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omicsd.domain.batches import BatchRecord, BatchRunRecord, RunSummary, SubmissionSummary
from omicsd.protocol._types import Handler, RequestContext
from omicsd.protocol.handlers._common import compact
from omicsd.services import Services
from omicsd.services.batches import BatchService, BatchView


def handlers(services: Services) -> dict[str, Handler]:
    """Handlers keyed by operation name."""
    batches = _service(services)
    arns = services.arns

    def start_run_batch(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        view = batches.start(services.caller(ctx.access_key_id), p)
        r = view.record
        return {"id": r.id, "arn": view.arn, "status": r.status.value, "uuid": r.uuid, "tags": view.tags}

    def get_batch(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        return _details(batches.get(p["batchId"]))

    def list_batch(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = batches.list(
            status=p.get("status"),
            name=p.get("name"),
            run_group_id=p.get("runGroupId"),
            token=p.get("startingToken"),
            max_items=p.get("maxItems"),
        )
        return compact({"items": [_item(r) for r in page.items], "nextToken": page.next_token})

    def list_runs_in_batch(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        page = batches.list_runs(
            p["batchId"],
            submission_status=p.get("submissionStatus"),
            run_setting_id=p.get("runSettingId"),
            run_id=p.get("runId"),
            token=p.get("startingToken"),
            max_items=p.get("maxItems"),
        )
        runs = [_run(r, arns.of("run", r.run_id) if r.run_id else None) for r in page.items]
        return compact({"runs": runs, "nextToken": page.next_token})

    def cancel_run_batch(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        batches.cancel(p["batchId"])
        return {}

    def delete_run_batch(ctx: RequestContext, p: dict[str, Any]) -> Mapping[str, Any]:
        batches.delete_runs(p["batchId"])
        return {}

    def delete_batch(ctx: RequestContext, p: dict[str, Any]) -> None:
        batches.delete(p["batchId"])

    return {
        "StartRunBatch": start_run_batch,
        "GetBatch": get_batch,
        "ListBatch": list_batch,
        "ListRunsInBatch": list_runs_in_batch,
        "CancelRunBatch": cancel_run_batch,
        "DeleteRunBatch": delete_run_batch,
        "DeleteBatch": delete_batch,
    }


def _service(services: Services) -> BatchService:
    found = getattr(services, "batches", None)
    if not isinstance(found, BatchService):
        raise TypeError("Services.batches is not a BatchService")
    return found


def _item(r: BatchRecord) -> dict[str, Any]:
    return compact(
        {
            "id": r.id,
            "name": r.name,
            "status": r.status.value,
            "createdAt": r.creation_time,
            "totalRuns": r.total_runs,
            "workflowId": r.workflow_id,
        }
    )


def _details(view: BatchView) -> dict[str, Any]:
    r = view.record
    return compact(
        {
            "id": r.id,
            "arn": view.arn,
            "uuid": r.uuid,
            "name": r.name,
            "status": r.status.value,
            "tags": view.tags,
            "totalRuns": r.total_runs,
            "defaultRunSetting": r.default_run_setting,
            "submissionSummary": _submission(view.submission),
            "runSummary": _runs(view.runs),
            "creationTime": r.creation_time,
            "submittedTime": r.submitted_time,
            "processedTime": r.processed_time,
            "failedTime": r.failed_time,
            "failureReason": r.failure_reason,
        }
    )


def _submission(s: SubmissionSummary) -> dict[str, int]:
    return {
        "successfulStartSubmissionCount": s.successful_start,
        "failedStartSubmissionCount": s.failed_start,
        "pendingStartSubmissionCount": s.pending_start,
        "successfulCancelSubmissionCount": s.successful_cancel,
        "failedCancelSubmissionCount": s.failed_cancel,
        "successfulDeleteSubmissionCount": s.successful_delete,
        "failedDeleteSubmissionCount": s.failed_delete,
    }


def _runs(s: RunSummary) -> dict[str, int]:
    return {
        "pendingRunCount": s.pending,
        "startingRunCount": s.starting,
        "runningRunCount": s.running,
        "stoppingRunCount": s.stopping,
        "completedRunCount": s.completed,
        "deletedRunCount": s.deleted,
        "failedRunCount": s.failed,
        "cancelledRunCount": s.cancelled,
    }


def _run(r: BatchRunRecord, arn: str | None) -> dict[str, Any]:
    return compact(
        {
            "runSettingId": r.run_setting_id,
            "runId": r.run_id,
            "runInternalUuid": r.run_uuid,
            "runArn": arn,
            "submissionStatus": r.submission_status.value,
            "submissionFailureReason": r.submission_failure_reason,
            "submissionFailureMessage": r.submission_failure_message,
        }
    )
