"""The background work of run batches, one bounded chunk at a time: read settings, create, cancel, delete runs.

Owns: :class:`BatchWork` — reading a batch's run settings (inline or from the settings file, with its ETag
checked), turning a chunk of settings into runs with a few set-based statements (IDs allocated in bulk, one
multi-row insert for the runs, their tags and their ``batch_runs`` rows, all in one transaction), and
cancelling or deleting a chunk of a batch's runs in bulk (``RunService.cancel_many_in`` / ``delete_many_in``:
the state columns of the chunk's runs read with one statement per 500, every change decided by the transition
tables, written a few hundred runs per statement; the run-log lines follow once the chunk committed).
Must not: change a batch's status (``BatchService.transition`` does) or open transactions of its own except
the one per chunk. Every chunk re-checks, under a row lock, that the batch is still in the status the chunk is
for, so a cancel that lands during submission stops it cleanly and a crash never duplicates runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.blobs.base import ObjectStore
from omicsd.domain import batches as rules
from omicsd.domain.batches import BatchRecord, BatchRunRecord, BatchStatus, SubmissionStatus
from omicsd.domain.callers import Caller
from omicsd.domain.ids import Arns, new_id
from omicsd.domain.runs import RunRecord, RunState, check_locations, check_parameters
from omicsd.domain.states import RUN_TERMINAL, RunStatus
from omicsd.domain.tags import check_new
from omicsd.domain.workflows import WorkflowRecord
from omicsd.errors import ConflictError, NotFoundError, OmicsdError, QuotaExceededError, ValidationError
from omicsd.services._run_requests import runnable_workflow
from omicsd.services.runs import RunService
from omicsd.store import Store
from omicsd.store import batches as repo
from omicsd.store import runs as run_store

logger = logging.getLogger(__name__)

Outcome = tuple[str, SubmissionStatus, str | None, str | None]


@dataclass
class BatchWork:
    """Chunked work on the runs of batches."""

    store: Store
    runs: RunService
    arns: Arns
    blobs: ObjectStore
    caller: Caller
    """Who batch runs are started by (their ``startedBy``)."""
    chunk_size: int = 2000

    # -- settings -----------------------------------------------------------------------------------------

    def workflow(self, conn: Connection, default: Mapping[str, Any]) -> WorkflowRecord:
        """The ACTIVE workflow (or version) a batch runs.

        Raises:
            NotFoundError: no such workflow or version here.
            ConflictError: it is not ACTIVE.
        """
        return runnable_workflow(conn, default, self.arns.account_id)

    def entries(self, record: BatchRecord) -> list[Any]:
        """A batch's run settings, checked as a whole.

        Raises:
            ValidationError: the message is the batch's ``failureReason`` (unreadable or changed settings
                file, not a JSON array, too many runs, missing or duplicate ``runSettingId``).
        """
        if record.settings_source == "INLINE":
            entries: list[Any] = list(record.inline_settings or [])
        else:
            entries = rules.parse_settings_file(self._settings_file(record))
        rules.check_batch(entries)
        return entries

    def _settings_file(self, record: BatchRecord) -> bytes:
        uri = record.settings_uri or ""
        try:
            etag = self.blobs.head(uri).etag
            if record.settings_etag and etag != record.settings_etag:
                raise ValidationError(
                    f"The run settings file {uri} changed after StartRunBatch (ETag {record.settings_etag} is now "
                    f"{etag}); start a new batch"
                )
            return self.blobs.get_bytes(uri)
        except (NotFoundError, OSError) as exc:
            message = exc.message if isinstance(exc, OmicsdError) else str(exc)
            raise ValidationError(f"The run settings file {uri} cannot be read: {message}") from exc

    # -- submission ---------------------------------------------------------------------------------------

    def submit_chunk(self, batch_id: str, entries: Sequence[Any], workflow: WorkflowRecord) -> tuple[int, int]:
        """Submit the next chunk of settings; returns ``(next_seq, runs_created)``.

        ``next_seq`` equal to ``len(entries)`` means every setting has been attempted; ``-1`` means the batch
        is no longer SUBMITTING (cancelled) and nothing was written.
        """
        with self.store.write() as conn:
            record = repo.get(conn, batch_id, lock=True)
            if record is None or record.status != BatchStatus.SUBMITTING:
                return -1, 0
            start = repo.next_seq(conn, batch_id)
            stop = min(start + self.chunk_size, len(entries))
            if start >= stop:
                return start, 0
            created = self._create(conn, record, entries, start, stop, workflow)
        logger.info("batch.submitted id=%s settings=%d-%d runs=%d", batch_id, start, stop - 1, created)
        return stop, created

    def _create(
        self,
        conn: Connection,
        record: BatchRecord,
        entries: Sequence[Any],
        start: int,
        stop: int,
        workflow: WorkflowRecord,
    ) -> int:
        checked = record.settings_source != "INLINE"
        default, shared_error = self._resolved_default(conn, record.default_run_setting)
        ready: list[tuple[int, str, dict[str, Any]]] = []
        rows: list[BatchRunRecord] = []
        for seq in range(start, stop):
            entry = entries[seq]
            setting_id = str(entry["runSettingId"])
            try:
                if shared_error is not None:
                    raise shared_error
                ready.append((seq, setting_id, self._merged(conn, default, entry, workflow, checked)))
            except (ValidationError, NotFoundError, ConflictError) as exc:
                rows.append(_failed(record.id, setting_id, seq, exc))
        fits = self._make_room(conn, len(ready))
        for seq, setting_id, _ in ready[fits:]:
            quota = QuotaExceededError(
                f"The stored-runs quota ({self.runs.policy.max_stored_runs}) is reached and no finished run with "
                "retentionMode REMOVE can be evicted"
            )
            rows.append(_failed(record.id, setting_id, seq, quota))
        ready = ready[:fits]
        run_ids = self._new_run_ids(conn, len(ready))
        records: list[RunRecord] = []
        tags: list[tuple[str, Mapping[str, str]]] = []
        for (seq, setting_id, merged), run_id, uuid in zip(ready, run_ids, _uuids(len(ready)), strict=True):
            records.append(self.runs.build_record(self.caller, run_id, uuid, merged, workflow))
            if merged["tags"]:
                tags.append((self.arns.of("run", run_id), merged["tags"]))
            rows.append(BatchRunRecord(record.id, setting_id, seq, SubmissionStatus.SUCCESS, run_id, uuid))
        repo.insert_runs(conn, records, record.id, [setting_id for _, setting_id, _ in ready])
        repo.insert_tags(conn, tags)
        repo.insert_batch_runs(conn, sorted(rows, key=lambda r: r.seq))
        return len(records)

    def _resolved_default(
        self, conn: Connection, default: Mapping[str, Any]
    ) -> tuple[dict[str, Any], OmicsdError | None]:
        """The default with what its references imply (a run cache's behaviour), or the error every run gets."""
        resolved = dict(default)
        try:
            found = self.runs.check_references(conn, resolved)
        except (NotFoundError, ValidationError, ConflictError) as exc:
            return resolved, exc
        cache = found.get("cacheId")
        if cache is not None and not resolved.get("cacheBehavior"):
            resolved["cacheBehavior"] = getattr(cache, "cache_behavior", None)
        return resolved, None

    def _merged(
        self,
        conn: Connection,
        default: Mapping[str, Any],
        entry: Any,
        workflow: WorkflowRecord,
        check_shape: bool,
    ) -> dict[str, Any]:
        """StartRun members of one setting, validated as StartRun validates them.

        Raises:
            ValidationError: naming what is wrong with this setting.
        """
        if check_shape:
            rules.check_setting(entry)
        merged = rules.merge_setting(default, entry)
        if not merged.get("outputUri"):
            raise ValidationError("outputUri is required: set it in defaultRunSetting or in the run setting")
        check_locations(merged["outputUri"], merged["roleArn"])
        merged["parameters"] = check_parameters(merged["parameters"], workflow.parameter_template)
        merged["tags"] = check_new(merged["tags"])
        if workflow.engine == "NEXTFLOW" and merged.get("engineSettings") is not None:
            self.runs.resolve_workflow(conn, merged)  # StartRun's engineSettings checks (profiles, versions)
        return merged

    def _make_room(self, conn: Connection, wanted: int) -> int:
        """How many of ``wanted`` new runs fit the stored-runs quota, evicting REMOVE runs for them."""
        if wanted == 0:
            return 0
        try:
            self.runs.make_room(conn, adding=wanted)
            return wanted
        except QuotaExceededError:
            free = self.runs.policy.max_stored_runs - run_store.count_stored(conn)
            removable = len(run_store.oldest_removable(conn, wanted))
            fits = max(0, min(wanted, free + removable))
            if fits:
                self.runs.make_room(conn, adding=fits)
            return fits

    def _new_run_ids(self, conn: Connection, count: int) -> list[str]:
        found: set[str] = set()
        while len(found) < count:
            wanted = count - len(found)
            candidates = {new_id() for _ in range(wanted + wanted // 8 + 4)} - found
            found |= candidates - repo.taken_run_ids(conn, candidates)
        return sorted(found)[:count]

    # -- cancel and delete --------------------------------------------------------------------------------

    def cancel_chunk(self, batch_id: str, after_seq: int) -> int | None:
        """Cancel the unfinished runs among the next chunk of settings after ``after_seq``.

        PENDING runs become CANCELLED, started ones STOPPING (the scheduler signals their drivers), runs already
        STOPPING count as cancelled; runs that finished before the cancel get no outcome. The runs and their
        outcomes commit together, so a chunk interrupted by a crash is simply done again.

        Returns:
            The position to continue after, or ``None`` when every setting has been looked at (or the batch is
            no longer STOPPING).
        """
        with self.store.write() as conn:
            record = repo.get(conn, batch_id, lock=True)
            if record is None or record.status != BatchStatus.STOPPING:
                return None
            rows = repo.window(conn, batch_id, after_seq, self.chunk_size)
            started = [r for r in rows if r.submission_status == SubmissionStatus.SUCCESS and r.run_id]
            found = run_store.states(conn, [r.run_id for r in started if r.run_id])
            unfinished: list[tuple[str, RunState]] = []
            for row in started:
                run = _same_run(found, row)
                if run is not None and run.status not in RUN_TERMINAL:  # else finished (or gone): nothing to do
                    unfinished.append((row.run_setting_id, run))
            moves, errors = self.runs.cancel_many_in(
                conn,
                [run for _, run in unfinished],
                pending_message="Cancelled with its batch before it started",
                started_message="Cancellation requested by CancelRunBatch",
            )
            outcomes: list[Outcome] = []
            for setting_id, run in unfinished:
                error = errors.get(run.id)
                if error is None:
                    outcomes.append((setting_id, SubmissionStatus.CANCEL_SUCCESS, None, None))
                else:
                    outcomes.append((setting_id, SubmissionStatus.CANCEL_FAILED, error.code, error.message))
            repo.set_submissions(conn, batch_id, outcomes)
        self.runs.log_moves(moves)
        if outcomes:
            self.runs.wake()
        return rows[-1].seq if rows else None

    def delete_chunk(self, batch_id: str, after_seq: int) -> int | None:
        """Delete the runs among the next chunk of settings after ``after_seq`` (see :meth:`cancel_chunk`).

        Finished runs become DELETED (tasks and tags dropped); runs already deleted count as deleted; unfinished
        ones fail with a conflict.
        """
        deletable = (SubmissionStatus.SUCCESS, SubmissionStatus.CANCEL_SUCCESS, SubmissionStatus.CANCEL_FAILED)
        with self.store.write() as conn:
            record = repo.get(conn, batch_id, lock=True)
            if record is None or record.status != BatchStatus.RUNS_DELETING:
                return None
            rows = repo.window(conn, batch_id, after_seq, self.chunk_size)
            started = [r for r in rows if r.submission_status in deletable and r.run_id]
            found = run_store.states(conn, [r.run_id for r in started if r.run_id])
            finished: list[RunState] = []
            outcomes: list[Outcome] = []
            for row in started:
                run = _same_run(found, row)
                if run is not None and run.status not in RUN_TERMINAL and run.status != RunStatus.DELETED:
                    message = f"Run {run.id} is {run.status.value}; only finished runs can be deleted"
                    outcomes.append((row.run_setting_id, SubmissionStatus.DELETE_FAILED, ConflictError.code, message))
                    continue
                if run is not None and run.status in RUN_TERMINAL:
                    finished.append(run)
                outcomes.append((row.run_setting_id, SubmissionStatus.DELETE_SUCCESS, None, None))  # gone or going
            moves = self.runs.delete_many_in(conn, finished)
            repo.set_submissions(conn, batch_id, outcomes)
        self.runs.log_moves([moves])
        return rows[-1].seq if rows else None


def _same_run(found: Mapping[str, RunState], row: BatchRunRecord) -> RunState | None:
    """The run a setting made, unless its ID now belongs to another run."""
    run = found.get(row.run_id or "")
    return run if run is not None and run.uuid == row.run_uuid else None


def _uuids(count: int) -> list[str]:
    """``count`` random (version 4) UUID strings, like :func:`omicsd.domain.ids.new_uuid` but cheaper in bulk."""
    out = []
    raw = bytearray(os.urandom(16 * count))
    for i in range(0, 16 * count, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80
        h = raw[i : i + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def _failed(batch_id: str, setting_id: str, seq: int, exc: OmicsdError) -> BatchRunRecord:
    return BatchRunRecord(
        batch_id=batch_id,
        run_setting_id=setting_id,
        seq=seq,
        submission_status=SubmissionStatus.FAILED,
        submission_failure_reason=exc.code,
        submission_failure_message=exc.message,
    )
