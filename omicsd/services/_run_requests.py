"""What StartRun (and StartRunBatch, for each of its runs) makes of a request before it stores the run.

Owns: :class:`RunPolicy` (the settings' run defaults and quotas), :func:`resolve_workflow` (the workflow or
version a request runs, with its parameters checked against the template; :func:`runnable_workflow` without
them, for a batch's default settings), :func:`merge_rerun` (a rerun takes the source run's settings it does not
set), :func:`build_record` (the PENDING record) and :func:`wire_settings` (a stored run's settings under their
StartRun names).
Must not: write anything (:class:`~omicsd.services.runs.RunService` stores the record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain import runs as rules
from omicsd.domain.callers import Caller
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RunStatus
from omicsd.domain.workflows import DEFAULT_VERSION, WorkflowRecord, check_runnable
from omicsd.engines.nextflow.settings import check_profiles, parse_engine_settings
from omicsd.errors import NotFoundError, ValidationError
from omicsd.store import runs as repo
from omicsd.store import workflows as workflow_store


@dataclass(frozen=True)
class RunPolicy:
    """Run defaults and quotas from the settings."""

    max_stored_runs: int = 10000
    default_storage_type: str = "DYNAMIC"
    default_storage_capacity: int = 1200


def resolve_workflow(conn: Connection, params: Mapping[str, Any], account_id: str) -> WorkflowRecord:
    """The ACTIVE workflow (or version) a request runs; parameters checked against its template.

    Raises:
        NotFoundError: no such workflow or version here.
        ConflictError: not ACTIVE.
        ValidationError: parameters do not fit the template.
    """
    if params.get("workflowType", "PRIVATE") == "READY2RUN":
        raise NotFoundError(f"Ready2Run workflow {params['workflowId']} not found")
    workflow = runnable_workflow(conn, params, account_id)
    rules.check_parameters(params.get("parameters"), workflow.parameter_template)
    if workflow.engine == "NEXTFLOW" and params.get("engineSettings") is not None:
        check_engine_settings(params["engineSettings"], workflow.profiles)
    return workflow


def runnable_workflow(conn: Connection, params: Mapping[str, Any], account_id: str) -> WorkflowRecord:
    """The ACTIVE workflow (or version) that ``workflowId``, ``workflowVersionName`` and ``workflowOwnerId`` name.

    Raises:
        NotFoundError: no such workflow or version here (a workflow shared by another account is not).
        ConflictError: not ACTIVE.
    """
    owner = params.get("workflowOwnerId")
    if owner and owner != account_id:
        raise NotFoundError(f"Workflow {params['workflowId']} shared by account {owner} not found")
    version = params.get("workflowVersionName") or DEFAULT_VERSION
    workflow = workflow_store.get(conn, params["workflowId"], version)
    if workflow is None:
        what = f"Workflow {params['workflowId']}" + (f" version {version}" if version else "")
        raise NotFoundError(f"{what} not found")
    check_runnable(workflow)
    return workflow


def merge_rerun(conn: Connection, params: Mapping[str, Any]) -> dict[str, Any]:
    """A rerun request (``runId``) completed with the source run's settings it does not set; others as they are.

    Raises:
        NotFoundError: the source run does not exist.
    """
    merged = dict(params)
    source_id = params.get("runId")
    if not source_id:
        return merged
    source = repo.get(conn, source_id)
    if source is None:
        raise NotFoundError(f"Run {source_id} not found")
    copied = wire_settings(source)
    for member in rules.RERUN_COPIED:
        if merged.get(member) is None and copied.get(member) is not None:
            merged[member] = copied[member]
    merged["sourceRunId"] = source_id
    return merged


def build_record(
    caller: Caller, run_id: str, uuid: str, p: Mapping[str, Any], workflow: WorkflowRecord, policy: RunPolicy
) -> RunRecord:
    """The PENDING record of a validated request."""
    storage_type = p.get("storageType") or workflow.storage_type or policy.default_storage_type
    capacity = None
    if storage_type == "STATIC":
        capacity = rules.static_capacity(
            p.get("storageCapacity") or workflow.storage_capacity, policy.default_storage_capacity
        )
    engine_settings = p.get("engineSettings") if workflow.engine == "NEXTFLOW" else None
    return RunRecord(
        id=run_id,
        uuid=uuid,
        status=RunStatus.PENDING,
        creation_time=datetime.now(UTC),
        workflow_id=workflow.id,
        workflow_type=p.get("workflowType") or "PRIVATE",
        workflow_version_name=workflow.version_name or None,
        workflow_owner_id=p.get("workflowOwnerId"),
        workflow_uuid=workflow.uuid,
        workflow_name=None if workflow.is_version else workflow.name,
        source_run_id=p.get("sourceRunId"),
        role_arn=p["roleArn"],
        output_uri=p["outputUri"],
        run_output_uri=rules.run_output_uri(p["outputUri"], run_id, p.get("outputUriPrefixMode")),
        output_uri_prefix_mode=p.get("outputUriPrefixMode"),
        retention_mode=p.get("retentionMode") or "RETAIN",
        networking_mode=p.get("networkingMode") or "RESTRICTED",
        configuration_name=p.get("configurationName"),
        name=p.get("name"),
        priority=p.get("priority"),
        parameters=dict(p.get("parameters") or {}),
        storage_type=storage_type,
        storage_capacity=capacity,
        log_level=p.get("logLevel"),
        run_group_id=p.get("runGroupId"),
        cache_id=p.get("cacheId"),
        cache_behavior=p.get("cacheBehavior"),
        engine=workflow.engine,
        engine_settings=engine_settings,
        scratch_storage_mode=p.get("scratchStorageMode"),
        session_policy=p.get("sessionPolicy"),
        accelerators=workflow.accelerators,
        digest=workflow.digest,
        main=workflow.main,
        started_by=caller.principal_arn,
    )


def check_engine_settings(body: Any, declared_profiles: list[str]) -> None:
    """Check Nextflow engineSettings: shape and profiles are request errors.

    An unsupported engineVersion is not: HealthOmics accepts the run and fails it with
    WORKFLOW_VER_VALIDATION_FAILED, which the driver does.
    """
    try:
        settings = parse_engine_settings(body)
    except ValidationError as exc:
        if exc.details.get("failure_reason") != "WORKFLOW_VER_VALIDATION_FAILED" or not isinstance(body, dict):
            raise
        settings = parse_engine_settings({k: v for k, v in body.items() if k != "engineVersion"})
    check_profiles(settings.profiles, declared_profiles)


def wire_settings(record: RunRecord) -> dict[str, Any]:
    """A stored run's settings under their StartRun member names (what a rerun copies)."""
    return {
        "workflowId": record.workflow_id,
        "workflowType": record.workflow_type,
        "workflowVersionName": record.workflow_version_name,
        "workflowOwnerId": record.workflow_owner_id,
        "parameters": record.parameters,
        "name": record.name,
        "priority": record.priority,
        "runGroupId": record.run_group_id,
        "storageType": record.storage_type,
        "storageCapacity": record.storage_capacity,
        "cacheId": record.cache_id,
        "cacheBehavior": record.cache_behavior,
        "logLevel": record.log_level,
        "retentionMode": record.retention_mode,
        "networkingMode": record.networking_mode,
        "configurationName": record.configuration_name,
        "engineSettings": record.engine_settings,
        "scratchStorageMode": record.scratch_storage_mode,
        "outputUriPrefixMode": record.output_uri_prefix_mode,
    }
