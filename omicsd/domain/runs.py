"""Runs: the stored record and the StartRun rules that are not wire-shape validation.

Owns: :class:`RunRecord` (and its narrower views :class:`RunSummary` and :class:`RunState`), parameter checks
against a workflow's parameter template, storage defaults and STATIC rounding, the run output location, and which
settings a rerun (``runId``) copies.
Must not: touch storage, engines or the clock beyond what callers pass in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from omicsd.domain.states import RunStatus
from omicsd.errors import ValidationError

MAX_PARAMETER_BYTES = 50_000
STATIC_STEP_GIB = 1200
STATIC_LARGE_STEP_GIB = 2400
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")

#: StartRun members a rerun copies from its source run unless the request gives them.
RERUN_COPIED = (
    "workflowId",
    "workflowType",
    "workflowVersionName",
    "workflowOwnerId",
    "parameters",
    "name",
    "priority",
    "runGroupId",
    "storageType",
    "storageCapacity",
    "cacheId",
    "cacheBehavior",
    "logLevel",
    "retentionMode",
    "networkingMode",
    "configurationName",
    "engineSettings",
    "scratchStorageMode",
    "outputUriPrefixMode",
)


@dataclass(frozen=True)
class RunRecord:
    """A run as stored (column names of the ``runs`` table)."""

    id: str
    uuid: str
    status: RunStatus
    creation_time: datetime
    workflow_id: str
    workflow_type: str
    role_arn: str
    output_uri: str
    retention_mode: str
    networking_mode: str
    name: str | None = None
    start_time: datetime | None = None
    stop_time: datetime | None = None
    status_message: str | None = None
    failure_reason: str | None = None
    workflow_version_name: str | None = None
    workflow_owner_id: str | None = None
    workflow_uuid: str | None = None
    workflow_name: str | None = None
    source_run_id: str | None = None
    run_group_id: str | None = None
    batch_id: str | None = None
    run_setting_id: str | None = None
    priority: int | None = None
    parameters: dict[str, Any] | None = None
    storage_type: str | None = None
    storage_capacity: int | None = None
    run_output_uri: str | None = None
    output_uri_prefix_mode: str | None = None
    log_level: str | None = None
    configuration_name: str | None = None
    cache_id: str | None = None
    cache_behavior: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    engine_settings: Any = None
    scratch_storage_mode: str | None = None
    session_policy: str | None = None
    accelerators: str | None = None
    digest: str | None = None
    main: str | None = None
    resource_digests: dict[str, str] | None = None
    started_by: str | None = None
    storage_max_bytes: int | None = None
    outputs: dict[str, Any] | None = None
    driver_pid: int | None = None
    driver_start: str | None = None
    journal_offset: int = 0

    @property
    def label(self) -> str:
        """How messages name this run."""
        return f"Run {self.id}"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The columns of a run that a ListRuns item shows (fields named like :class:`RunRecord`'s)."""

    id: str
    status: RunStatus
    creation_time: datetime
    workflow_id: str
    batch_id: str | None
    name: str | None
    priority: int | None
    storage_capacity: int | None
    storage_type: str | None
    start_time: datetime | None
    stop_time: datetime | None
    workflow_version_name: str | None
    workflow_name: str | None


#: RunSummary's fields in declaration order (the columns a summary query selects).
SUMMARY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RunSummary))


@dataclass(frozen=True, slots=True)
class RunState:
    """The columns of a run that a status change needs; what bulk operations read instead of whole records."""

    id: str
    uuid: str
    status: RunStatus
    start_time: datetime | None
    log_level: str | None

    @property
    def label(self) -> str:
        """How messages name this run."""
        return f"Run {self.id}"


#: RunState's fields in declaration order (the columns a state query selects).
STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RunState))


def check_parameters(parameters: Any, template: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run parameters against the workflow's parameter template (names only; types are the engine's job).

    Raises:
        ValidationError: not a JSON object, larger than 50,000 bytes, unknown names or missing required names.
    """
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationError("parameters must be a JSON object")
    size = len(json.dumps(parameters, separators=(",", ":")).encode())
    if size > MAX_PARAMETER_BYTES:
        raise ValidationError(f"parameters are {size} bytes; the limit is {MAX_PARAMETER_BYTES}")
    template = template or {}
    unknown = sorted(set(parameters) - set(template))
    missing = sorted(name for name, entry in template.items() if not _optional(entry) and name not in parameters)
    problems = []
    if unknown:
        problems.append(f"parameters not defined in the parameter template: {', '.join(unknown)}")
    if missing:
        problems.append(f"required parameters missing: {', '.join(missing)}")
    if problems:
        raise ValidationError("; ".join(problems))
    return parameters


def _optional(entry: Any) -> bool:
    return bool(entry.get("optional")) if isinstance(entry, Mapping) else False


def static_capacity(requested: int | None, default: int) -> int:
    """Provisioned STATIC storage in GiB: 1200, then steps of 2400 (2400, 4800, 7200, ...)."""
    wanted = requested if requested else default
    if wanted <= STATIC_STEP_GIB:
        return STATIC_STEP_GIB
    return math.ceil(wanted / STATIC_LARGE_STEP_GIB) * STATIC_LARGE_STEP_GIB


def run_output_uri(output_uri: str, run_id: str, prefix_mode: str | None) -> str:
    """Where a run's outputs go: ``<outputUri>/<runId>`` (SERVICE_DEFINED) or ``outputUri`` itself."""
    base = output_uri.rstrip("/")
    if prefix_mode == "NONE_WITH_OVERWRITE":
        return base
    return f"{base}/{run_id}"


def check_locations(output_uri: str, role_arn: str) -> None:
    """``outputUri`` must be an S3 URI and ``roleArn`` an IAM role ARN.

    Raises:
        ValidationError: naming the member.
    """
    if not output_uri.startswith("s3://") or len(output_uri) <= len("s3://"):
        raise ValidationError(f"outputUri must begin with s3://, got {output_uri}")
    if not _ROLE_ARN.fullmatch(role_arn):
        raise ValidationError(f"roleArn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {role_arn}")


def check_session_policy(policy: str | None) -> None:
    """A session policy must be a JSON object (an IAM policy document).

    Raises:
        ValidationError: not JSON or not an object.
    """
    if policy is None:
        return
    try:
        parsed = json.loads(policy)
    except ValueError as exc:
        raise ValidationError("sessionPolicy must be a valid JSON IAM policy document") from exc
    if not isinstance(parsed, dict):
        raise ValidationError("sessionPolicy must be a JSON object")


def check_choice_members(params: Mapping[str, Any]) -> None:
    """Member combinations HealthOmics rejects.

    Raises:
        ValidationError: ``workflowId`` and ``runId`` both or neither, ``cacheBehavior`` without ``cacheId``,
            VPC networking without a configuration.
    """
    if bool(params.get("workflowId")) == bool(params.get("runId")):
        raise ValidationError("Specify exactly one of workflowId (a new run) or runId (a rerun)")
    if params.get("cacheBehavior") and not params.get("cacheId"):
        raise ValidationError("cacheBehavior requires cacheId")
    if params.get("networkingMode") == "VPC" and not params.get("configurationName"):
        raise ValidationError("networkingMode VPC requires configurationName")


def failure_message(reason: str, message: str) -> tuple[str, str]:
    """Clamp a failure reason to the model's 64 characters and the message to something readable."""
    return reason[:64], message[:4000]
