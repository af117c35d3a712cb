"""Run batches: StartRunBatch, GetBatch, ListBatch, ListRunsInBatch, CancelRunBatch, DeleteRunBatch, DeleteBatch.

Owns: the batch use cases, :meth:`BatchService.transition` (the only code that changes a batch's status) and
:meth:`BatchService.step`, which advances batches in the background (:mod:`omicsd.services._batch_steps`):

- CREATING -> PENDING at once;
- PENDING -> SUBMITTING once the run settings are read and pass the batch-level checks (else FAILED with a
  ``failureReason``: unreadable or changed file, not a JSON array, too many runs, duplicate ``runSettingId``);
- SUBMITTING: chunks of settings become PENDING runs (see :mod:`omicsd.services._batch_work`); a setting that
  fails StartRun's checks is recorded FAILED and the batch goes on; -> INPROGRESS when all were attempted;
- INPROGRESS -> PROCESSED when every run of the batch has finished;
- STOPPING (CancelRunBatch): unfinished runs are cancelled chunk by chunk; -> CANCELLED when all finished;
- RUNS_DELETING (DeleteRunBatch): finished runs are deleted chunk by chunk; -> RUNS_DELETED, or
  RUNS_DELETE_FAILED when some could not be.

Everything :meth:`step` needs is in the database, so it is restart-safe: a submission interrupted by a crash
resumes at the first setting without a ``batch_runs`` row (rows and runs commit together).
Must not: know the wire format, or run anything (the scheduler runs the runs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from omicsd.blobs.base import ObjectStore
from omicsd.domain import batches as rules
from omicsd.domain.batches import (
    BATCH_TRANSITIONS,
    BatchRecord,
    BatchRunRecord,
    BatchStatus,
    RunSummary,
    SubmissionSummary,
)
from omicsd.domain.callers import Caller
from omicsd.domain.ids import ArnRef, Arns, new_id, new_uuid
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.tags import check_new
from omicsd.domain.transitions import decide
from omicsd.errors import ConflictError, NotFoundError, OmicsdError, ValidationError
from omicsd.services._batch_steps import BatchSteps
from omicsd.services._batch_work import BatchWork
from omicsd.services._idempotency import create_once
from omicsd.services.runs import RunService
from omicsd.store import Store
from omicsd.store import batches as repo
from omicsd.store import tags as tag_store

logger = logging.getLogger(__name__)

_B = BatchStatus
_ROLE_CHECK_URI = "s3://omicsd-batch-settings/"
"""Stands in for ``outputUri`` when only the run settings give one, so the role ARN is still checked up front."""


@dataclass(frozen=True)
class BatchView:
    """A batch with its ARN, tags and counters, as GetBatch returns it."""

    record: BatchRecord
    arn: str
    tags: dict[str, str]
    submission: SubmissionSummary
    runs: RunSummary


class BatchService:
    """Use cases of run batches."""

    def __init__(
        self,
        store: Store,
        *,
        arns: Arns,
        runs: RunService,
        blobs: ObjectStore,
        principal_arn: str,
        chunk_size: int = 2000,
        check_interval: float = 0.2,
    ) -> None:
        self.store = store
        self.arns = arns
        self.runs = runs
        self.work = BatchWork(
            store,
            runs,
            arns,
            blobs,
            Caller(account_id=arns.account_id, principal_arn=principal_arn, key="-"),
            chunk_size,
        )
        self.steps = BatchSteps(store, self.work, runs, self.transition, check_interval=check_interval)
        """The background advancement of unfinished batches (:meth:`step`)."""

    # -- StartRunBatch ------------------------------------------------------------------------------------

    def start(self, caller: Caller, params: Mapping[str, Any]) -> BatchView:
        """StartRunBatch: check the common settings, store the batch CREATING, wake the background step.

        Raises:
            ValidationError: bad default settings, both or neither settings sources, an unreadable settings
                file, a READY2RUN workflow, default parameters the template does not define.
            NotFoundError: the workflow, version, run group, cache or configuration is missing.
            ConflictError: the workflow is not ACTIVE; a reused requestId with other parameters.
        """
        default = dict(params["defaultRunSetting"])
        inline, uri = _settings_source(params["batchRunSettings"])
        tags = check_new(params.get("tags") or {})
        self.runs.check_request({**default, "outputUri": default.get("outputUri") or _ROLE_CHECK_URI})
        etag = self._settings_etag(uri) if uri else None

        def insert(conn: Any) -> str:
            workflow = self.work.workflow(conn, default)
            rules.check_default(default, workflow.parameter_template)
            self.runs.check_references(conn, default)
            batch_id = new_id()
            while repo.exists(conn, batch_id):
                batch_id = new_id()
            record = BatchRecord(
                id=batch_id,
                uuid=new_uuid(),
                status=_B.CREATING,
                workflow_id=workflow.id,
                default_run_setting=default,
                settings_source="INLINE" if inline is not None else "S3",
                creation_time=datetime.now(UTC),
                name=params.get("batchName"),
                run_group_id=default.get("runGroupId"),
                inline_settings=inline,
                total_runs=len(inline) if inline is not None else None,
                settings_uri=uri,
                settings_etag=etag,
            )
            repo.insert(conn, record)
            tag_store.replace(conn, self.arn(batch_id), tags)
            return batch_id

        batch_id, created = create_once(
            self.store, "StartRunBatch", caller.key, params.get("requestId"), params, insert
        )
        view = self.get(batch_id)
        if created:
            logger.info("batch.created id=%s source=%s", batch_id, "inline" if inline is not None else uri)
            self._busy()
            self.runs.wake()
            # The scheduler may already be advancing it: answer with what this request created, as HealthOmics does.
            view = replace(view, record=replace(view.record, status=BatchStatus.CREATING))
        return view

    # -- read ---------------------------------------------------------------------------------------------

    def get(self, batch_id: str) -> BatchView:
        """GetBatch with its submission and run counters.

        Raises:
            NotFoundError: no such batch.
        """
        with self.store.read() as conn:
            record = self._found(repo.get(conn, batch_id), batch_id)
            arn = self.arn(batch_id)
            return BatchView(
                record,
                arn,
                tag_store.get(conn, arn),
                rules.submission_summary(repo.submission_counts(conn, batch_id), record.total_runs, record.status),
                rules.run_summary(repo.run_counts(conn, batch_id)),
            )

    def list(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        run_group_id: str | None = None,
        token: str | None = None,
        max_items: int | None = None,
    ) -> Page[BatchRecord]:
        """ListBatch, newest first, with at most one filter.

        Raises:
            ValidationError: more than one filter, or a bad pagination token.
        """
        rules.check_one_filter(status=status, name=name, runGroupId=run_group_id)
        filters = {"status": status, "name": name, "group": run_group_id}
        after = decode_token(token, filters)
        limit = page_size(max_items)
        if after is not None:
            after = [datetime.fromisoformat(after[0]), after[1]]
        with self.store.read() as conn:
            records = repo.list_page(
                conn, status=status, name=name, run_group_id=run_group_id, after=after, limit=limit + 1
            )
        more = len(records) > limit
        records = records[:limit]
        next_token = None
        if more:
            next_token = encode_token([records[-1].creation_time.isoformat(), records[-1].id], filters)
        return Page(records, next_token)

    def list_runs(
        self,
        batch_id: str,
        *,
        submission_status: str | None = None,
        run_setting_id: str | None = None,
        run_id: str | None = None,
        token: str | None = None,
        max_items: int | None = None,
    ) -> Page[BatchRunRecord]:
        """ListRunsInBatch: each submitted runSettingId with its run, in submission order, at most one filter.

        Raises:
            NotFoundError: no such batch.
            ValidationError: more than one filter, or a bad pagination token.
        """
        rules.check_one_filter(submissionStatus=submission_status, runSettingId=run_setting_id, runId=run_id)
        filters = {"batch": batch_id, "status": submission_status, "setting": run_setting_id, "run": run_id}
        after = decode_token(token, filters)
        limit = page_size(max_items)
        with self.store.read() as conn:
            self._found(repo.get(conn, batch_id), batch_id)
            records = repo.list_runs_page(
                conn,
                batch_id,
                submission_status=submission_status,
                run_setting_id=run_setting_id,
                run_id=run_id,
                after_seq=int(after[0]) if after else None,
                limit=limit + 1,
            )
        more = len(records) > limit
        records = records[:limit]
        return Page(records, encode_token([records[-1].seq], filters) if more else None)

    # -- CancelRunBatch / DeleteRunBatch / DeleteBatch ----------------------------------------------------

    def cancel(self, batch_id: str) -> None:
        """CancelRunBatch: stop submitting and cancel every unfinished run of the batch (in the background).

        Raises:
            NotFoundError: no such batch.
            ConflictError: the batch is not PENDING, SUBMITTING or INPROGRESS (or CREATING).
        """
        self._operation(batch_id, rules.CANCELLABLE, _B.STOPPING, "CANCEL", "cancelled")

    def delete_runs(self, batch_id: str) -> None:
        """DeleteRunBatch: delete every run of a PROCESSED or CANCELLED batch (in the background).

        Raises:
            NotFoundError: no such batch.
            ConflictError: the batch is in another status (including a cancel or delete in progress).
        """
        self._operation(batch_id, rules.RUNS_DELETABLE, _B.RUNS_DELETING, "DELETE", "have its runs deleted")

    def delete(self, batch_id: str) -> None:
        """DeleteBatch: forget the batch's metadata (its runs are untouched).

        Raises:
            NotFoundError: no such batch.
            ConflictError: the batch is not in a final status.
        """
        with self.store.write() as conn:
            record = self._found(repo.get(conn, batch_id, lock=True), batch_id)
            if record.status not in rules.DELETABLE:
                raise ConflictError(
                    f"Batch {batch_id} is {record.status.value}; only batches in "
                    f"{_names(rules.DELETABLE)} can be deleted"
                )
            repo.delete(conn, batch_id)
            tag_store.delete_all(conn, self.arn(batch_id))
        self.steps.forget(batch_id)
        logger.info("batch.deleted id=%s", batch_id)

    # -- the transition choke point -----------------------------------------------------------------------

    def transition(self, record: BatchRecord, target: BatchStatus, **values: Any) -> bool:
        """Move a batch to ``target`` with compare-and-set; ``False`` when it had already moved on.

        Raises:
            ConflictError: the transition table forbids the change.
        """
        with self.store.write() as conn:
            return self.transition_in(conn, record, target, **values)

    def transition_in(self, conn: Any, record: BatchRecord, target: BatchStatus, **values: Any) -> bool:
        """:meth:`transition` inside a caller's transaction; stamps submitted/processed/failed times."""
        decision = decide(BATCH_TRANSITIONS, record.label, record.status, target)
        if decision.noop:
            return False
        if not decision.accepted:
            raise ConflictError(decision.reason)
        stamp = {_B.INPROGRESS: "submitted_time", _B.PROCESSED: "processed_time", _B.FAILED: "failed_time"}
        if target in stamp:
            values.setdefault(stamp[target], datetime.now(UTC))
        done = repo.compare_and_set(conn, record.id, current=record.status, values={**values, "status": target.value})
        if done:
            logger.info("batch.status id=%s status=%s", record.id, target.value)
        return done

    def step(self, budget: float = 0.5) -> bool:
        """Advance every unfinished batch, spending about ``budget`` seconds at most; ``True`` if work was done.

        Safe to call from several threads (one steps, the others return ``False``) and after a restart (see
        :class:`~omicsd.services._batch_steps.BatchSteps`).
        """
        return self.steps.step(budget)

    def exists(self, conn: Any, ref: ArnRef) -> bool:
        """Whether a tag ARN names a batch (for :meth:`TagService.register`)."""
        return repo.exists(conn, ref.resource_id)

    def arn(self, batch_id: str) -> str:
        """ARN of a batch."""
        return self.arns.of("runBatch", batch_id)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _settings_etag(self, uri: str) -> str:
        try:
            return self.work.blobs.head(uri).etag
        except (OmicsdError, OSError) as exc:
            message = exc.message if isinstance(exc, OmicsdError) else str(exc)
            raise ValidationError(f"s3UriSettings {uri} cannot be read: {message}") from exc

    def _operation(
        self, batch_id: str, allowed: frozenset[BatchStatus], target: BatchStatus, name: str, verb: str
    ) -> None:
        with self.store.write() as conn:
            record = self._found(repo.get(conn, batch_id, lock=True), batch_id)
            if record.status not in allowed:
                raise ConflictError(
                    f"Batch {batch_id} is {record.status.value}; only batches in {_names(allowed)} can be {verb}"
                )
            self.transition_in(conn, record, target, operation=name)
        logger.info("batch.%s id=%s", name.lower(), batch_id)
        self._busy()
        self.runs.wake()

    def _busy(self) -> None:
        """A batch call made work: the next :meth:`step` looks for it."""
        self.steps.busy()

    def _found(self, record: BatchRecord | None, batch_id: str) -> BatchRecord:
        if record is None:
            raise NotFoundError(f"Batch {batch_id} not found")
        return record


def _settings_source(settings: Mapping[str, Any]) -> tuple[list[dict[str, Any]] | None, str | None]:
    inline, uri = settings.get("inlineSettings"), settings.get("s3UriSettings")
    if (inline is None) == (uri is None):
        raise ValidationError("batchRunSettings needs exactly one of inlineSettings or s3UriSettings")
    if inline is not None and not 1 <= len(inline) <= rules.MAX_INLINE_SETTINGS:
        raise ValidationError(f"inlineSettings holds 1 to {rules.MAX_INLINE_SETTINGS} run settings")
    return (list(inline) if inline is not None else None), uri


def _names(statuses: frozenset[BatchStatus]) -> str:
    return ", ".join(sorted(s.value for s in statuses))
