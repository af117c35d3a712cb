"""Run batches: records, the batch status machine, settings merging and the batch-level validation rules.

Owns: :class:`BatchStatus` / :class:`SubmissionStatus` and the transition table, :class:`BatchRecord` and
:class:`BatchRunRecord`, how ``defaultRunSetting`` and one per-run setting merge into StartRun members, the
checks HealthOmics reports late (too many runs, duplicate ``runSettingId``, a settings file that is not a JSON
array of run settings), per-entry shape checks for settings read from a file, and the summary counters.
Must not: touch storage, blobs or the clock beyond the values callers pass in.

Status machine (the model's BatchStatus)::

    StartRunBatch -> CREATING -> PENDING -> SUBMITTING -> INPROGRESS -> PROCESSED
    CREATING | PENDING | SUBMITTING -> FAILED          (batch-level validation error)
    CREATING | PENDING | SUBMITTING | INPROGRESS -> STOPPING -> CANCELLED      (CancelRunBatch)
    PROCESSED | CANCELLED -> RUNS_DELETING -> RUNS_DELETED | RUNS_DELETE_FAILED (DeleteRunBatch)

CancelRunBatch is also accepted while CREATING (HealthOmics lists PENDING, SUBMITTING and INPROGRESS), since a
batch leaves CREATING within moments here and a cancel right after StartRunBatch should not fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from omicsd.domain.tags import check_new
from omicsd.errors import ValidationError

MAX_INLINE_SETTINGS = 100
MAX_RUNS = 100_000
MAX_RUN_SETTING_ID = 128
MAX_RUN_NAME = 128
MAX_PRIORITY = 100_000

#: Members a per-run setting (inline entry or file entry) may carry; everything else is batch-level.
SETTING_MEMBERS = frozenset(
    {"runSettingId", "name", "outputUri", "priority", "parameters", "outputBucketOwnerId", "runTags", "engineSettings"}
)
#: Per-run members that replace the default's value when present.
_REPLACED = ("name", "outputUri", "priority", "outputBucketOwnerId", "engineSettings")
_ACCOUNT = re.compile(r"[0-9]{12}")


class BatchStatus(StrEnum):
    """Run batch status (values of the model's BatchStatus)."""

    CREATING = "CREATING"
    PENDING = "PENDING"
    SUBMITTING = "SUBMITTING"
    INPROGRESS = "INPROGRESS"
    STOPPING = "STOPPING"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    PROCESSED = "PROCESSED"
    RUNS_DELETING = "RUNS_DELETING"
    RUNS_DELETE_FAILED = "RUNS_DELETE_FAILED"
    RUNS_DELETED = "RUNS_DELETED"


class SubmissionStatus(StrEnum):
    """Outcome of the latest operation on one run of a batch (the model's SubmissionStatus)."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCEL_SUCCESS = "CANCEL_SUCCESS"
    CANCEL_FAILED = "CANCEL_FAILED"
    DELETE_SUCCESS = "DELETE_SUCCESS"
    DELETE_FAILED = "DELETE_FAILED"


B = BatchStatus
BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    B.CREATING: frozenset({B.PENDING, B.STOPPING, B.FAILED}),
    B.PENDING: frozenset({B.SUBMITTING, B.STOPPING, B.FAILED}),
    B.SUBMITTING: frozenset({B.INPROGRESS, B.STOPPING, B.FAILED}),
    B.INPROGRESS: frozenset({B.PROCESSED, B.STOPPING}),
    B.STOPPING: frozenset({B.CANCELLED}),
    B.PROCESSED: frozenset({B.RUNS_DELETING}),
    B.CANCELLED: frozenset({B.RUNS_DELETING}),
    B.RUNS_DELETING: frozenset({B.RUNS_DELETED, B.RUNS_DELETE_FAILED}),
    B.RUNS_DELETE_FAILED: frozenset(),
    B.RUNS_DELETED: frozenset(),
    B.FAILED: frozenset(),
}

SUBMITTING: frozenset[BatchStatus] = frozenset({B.CREATING, B.PENDING, B.SUBMITTING})
"""Statuses in which some runs may still be submitted (pendingStartSubmissionCount counts only here)."""
CANCELLABLE: frozenset[BatchStatus] = frozenset({B.CREATING, B.PENDING, B.SUBMITTING, B.INPROGRESS})
RUNS_DELETABLE: frozenset[BatchStatus] = frozenset({B.PROCESSED, B.CANCELLED})
DELETABLE: frozenset[BatchStatus] = frozenset(
    {B.PROCESSED, B.FAILED, B.CANCELLED, B.RUNS_DELETE_FAILED, B.RUNS_DELETED}
)
"""Statuses DeleteBatch accepts: no run of the batch is active any more."""


@dataclass(frozen=True)
class BatchRecord:
    """A batch as stored (column names of the ``batches`` table)."""

    id: str
    uuid: str
    status: BatchStatus
    workflow_id: str
    default_run_setting: dict[str, Any]
    settings_source: str
    """``INLINE`` or ``S3``."""
    creation_time: datetime
    name: str | None = None
    run_group_id: str | None = None
    inline_settings: list[dict[str, Any]] | None = None
    settings_uri: str | None = None
    settings_etag: str | None = None
    total_runs: int | None = None
    failure_reason: str | None = None
    operation: str | None = None
    """The cancel or delete operation in flight or last done (``CANCEL`` / ``DELETE``)."""
    submitted_time: datetime | None = None
    processed_time: datetime | None = None
    failed_time: datetime | None = None

    @property
    def label(self) -> str:
        """How messages name this batch."""
        return f"Batch {self.id}"


@dataclass(frozen=True)
class BatchRunRecord:
    """One submitted run setting of a batch (column names of the ``batch_runs`` table)."""

    batch_id: str
    run_setting_id: str
    seq: int
    """Position of the setting in the batch (0-based)."""
    submission_status: SubmissionStatus
    run_id: str | None = None
    run_uuid: str | None = None
    submission_failure_reason: str | None = None
    submission_failure_message: str | None = None


@dataclass(frozen=True)
class SubmissionSummary:
    """GetBatch ``submissionSummary``."""

    successful_start: int = 0
    failed_start: int = 0
    pending_start: int = 0
    successful_cancel: int = 0
    failed_cancel: int = 0
    successful_delete: int = 0
    failed_delete: int = 0


@dataclass(frozen=True)
class RunSummary:
    """GetBatch ``runSummary``: the batch's runs by status (deleted runs included)."""

    pending: int = 0
    starting: int = 0
    running: int = 0
    stopping: int = 0
    completed: int = 0
    deleted: int = 0
    failed: int = 0
    cancelled: int = 0


def submission_summary(counts: Mapping[str, int], total: int | None, status: BatchStatus) -> SubmissionSummary:
    """Counters from the number of batch runs per submission status.

    Every run setting that produced a run counts as a successful start, whatever happened to it later.
    Settings not yet attempted are pending only while the batch is still submitting.
    """
    s = SubmissionStatus
    failed = counts.get(s.FAILED, 0)
    started = sum(n for key, n in counts.items() if key != s.FAILED)
    pending = max((total or 0) - started - failed, 0) if status in SUBMITTING else 0
    return SubmissionSummary(
        successful_start=started,
        failed_start=failed,
        pending_start=pending,
        successful_cancel=counts.get(s.CANCEL_SUCCESS, 0),
        failed_cancel=counts.get(s.CANCEL_FAILED, 0),
        successful_delete=counts.get(s.DELETE_SUCCESS, 0),
        failed_delete=counts.get(s.DELETE_FAILED, 0),
    )


def run_summary(counts: Mapping[str, int]) -> RunSummary:
    """Counters from the number of the batch's runs per run status."""
    return RunSummary(**{field: counts.get(field.upper(), 0) for field in RunSummary.__dataclass_fields__})


def check_default(default: Mapping[str, Any], template: Mapping[str, Any] | None) -> None:
    """Synchronous checks of ``defaultRunSetting`` that need the workflow's parameter template.

    Raises:
        ValidationError: a READY2RUN workflow, bad ``runTags``, or default parameters that the template does
            not define (each run adds its own, so missing names are only checked per run).
    """
    if default.get("workflowType") == "READY2RUN":
        raise ValidationError("Run batches do not support READY2RUN workflows")
    check_new(default.get("runTags") or {})
    parameters = default.get("parameters")
    if parameters is None:
        return
    if not isinstance(parameters, Mapping):
        raise ValidationError("defaultRunSetting.parameters must be a JSON object")
    unknown = sorted(set(parameters) - set(template or {}))
    if unknown:
        raise ValidationError(f"parameters not defined in the parameter template: {', '.join(unknown)}")


def parse_settings_file(data: bytes) -> list[Any]:
    """The entries of an ``s3UriSettings`` file.

    Raises:
        ValidationError: the content is not a JSON array.
    """
    try:
        entries = json.loads(data)
    except ValueError as exc:
        raise ValidationError(f"The run settings file is not valid JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise ValidationError("The run settings file must hold a JSON array of run settings")
    return entries


def check_batch(entries: Sequence[Any], max_runs: int = MAX_RUNS) -> list[str]:
    """The checks HealthOmics makes once per batch, after StartRunBatch answered; returns the runSettingIds.

    Raises:
        ValidationError: with the batch's ``failureReason`` — no entries, too many, an entry without a usable
            ``runSettingId``, or duplicate ids.
    """
    count = len(entries)
    if count > max_runs:
        raise ValidationError(f"Batch has {count} runs but {max_runs} runs is the max.")
    if count == 0:
        raise ValidationError("The batch has no run settings")
    ids: list[str] = []
    for index, entry in enumerate(entries):
        setting_id = entry.get("runSettingId") if isinstance(entry, Mapping) else None
        if not isinstance(setting_id, str) or not 1 <= len(setting_id) <= MAX_RUN_SETTING_ID:
            raise ValidationError(f"Run setting {index} needs a runSettingId of 1 to {MAX_RUN_SETTING_ID} characters")
        ids.append(setting_id)
    unique = len(set(ids))
    if unique != count:
        raise ValidationError(f"Expected {count} unique runSettingIds but there were {unique}")
    return ids


def check_setting(entry: Mapping[str, Any]) -> None:
    """Shape of one run setting read from a file (inline settings were checked on the wire).

    Raises:
        ValidationError: an unknown member or a member of the wrong type or range, naming it.
    """
    unknown = sorted(set(entry) - SETTING_MEMBERS)
    if unknown:
        raise ValidationError(
            f"Unknown member(s) in run setting: {', '.join(unknown)}; a run setting may only set "
            f"{', '.join(sorted(SETTING_MEMBERS))}"
        )
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= MAX_RUN_NAME):
        raise ValidationError(f"name must be a string of 1 to {MAX_RUN_NAME} characters")
    if entry.get("outputUri") is not None and not isinstance(entry["outputUri"], str):
        raise ValidationError("outputUri must be a string")
    priority = entry.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY
    ):
        raise ValidationError(f"priority must be an integer from 0 to {MAX_PRIORITY}")
    for member in ("parameters", "engineSettings", "runTags"):
        if entry.get(member) is not None and not isinstance(entry[member], Mapping):
            raise ValidationError(f"{member} must be a JSON object")
    tags = entry.get("runTags") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValidationError("runTags keys and values must be strings")
    owner = entry.get("outputBucketOwnerId")
    if owner is not None and (not isinstance(owner, str) or not _ACCOUNT.fullmatch(owner)):
        raise ValidationError("outputBucketOwnerId must be a 12-digit account ID")


def merge_setting(default: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """StartRun members of one run: the default, then the entry.

    ``parameters`` and ``runTags`` merge key by key with the entry's value winning (``runTags`` become the
    run's ``tags``); ``name``, ``outputUri``, ``priority``, ``outputBucketOwnerId`` and ``engineSettings`` are
    replaced when the entry gives them. Batch tags are never copied to runs.
    """
    merged = {k: v for k, v in default.items() if k not in ("runTags", "parameters")}
    for member in _REPLACED:
        if entry.get(member) is not None:
            merged[member] = entry[member]
    merged["parameters"] = {**(default.get("parameters") or {}), **(entry.get("parameters") or {})}
    merged["tags"] = {**(default.get("runTags") or {}), **(entry.get("runTags") or {})}
    return merged


def check_one_filter(**filters: Any) -> None:
    """ListBatch and ListRunsInBatch accept at most one filter per call.

    Raises:
        ValidationError: naming the filters given.
    """
    given = sorted(name for name, value in filters.items() if value is not None)
    if len(given) > 1:
        raise ValidationError(f"Only one filter per call is supported; got {', '.join(given)}")
