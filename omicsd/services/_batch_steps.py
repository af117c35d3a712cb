"""The background advancement of run batches, one status at a time (see :mod:`omicsd.services.batches`).

Owns: :class:`BatchSteps`: what :meth:`~omicsd.services.batches.BatchService.step` does to each unfinished
batch (read its settings, submit them in chunks, notice when its runs have finished, cancel or delete them
chunk by chunk), with what it remembers between steps (the settings read, a cursor per operation, when a batch
was last checked) and when it may rest (no unfinished batch and no batch call since).
Must not: change a batch's status except through the service's ``transition`` it is given.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from omicsd.domain.batches import BatchRecord, BatchStatus, SubmissionStatus
from omicsd.errors import ConflictError, NotFoundError, ValidationError
from omicsd.services._batch_work import BatchWork
from omicsd.services.runs import RunService
from omicsd.store import Store
from omicsd.store import batches as repo

logger = logging.getLogger(__name__)

_B = BatchStatus
IDLE_RECHECK_SECONDS = 1.0
"""When no batch is unfinished, how long :meth:`BatchService.step` trusts that (its own calls end it sooner)."""
_ADVANCING = (_B.CREATING, _B.PENDING, _B.SUBMITTING, _B.INPROGRESS, _B.STOPPING, _B.RUNS_DELETING)

Transition = Callable[..., bool]
"""``BatchService.transition(record, target, **values)``: the batches' status choke point."""


class BatchSteps:
    """Advances unfinished batches; thread-safe (one thread steps at a time)."""

    def __init__(
        self, store: Store, work: BatchWork, runs: RunService, transition: Transition, *, check_interval: float
    ) -> None:
        self.store = store
        self.work = work
        self.runs = runs
        self.transition = transition
        self.check_interval = check_interval
        """Seconds between two checks of whether an INPROGRESS or STOPPING batch's runs have all finished."""
        self._entries: dict[str, list[Any]] = {}
        self._checked: dict[str, float] = {}
        self._cursors: dict[tuple[str, BatchStatus], int | None] = {}
        """Per batch and operation (STOPPING, RUNS_DELETING): the last setting position handled (None: all)."""
        self._stepping = threading.Lock()
        self._idle_until = 0.0
        """Monotonic time until which :meth:`step` need not look for batches (none was unfinished at its last look)."""
        self._calls = 0
        """Batch calls that may have made work (StartRunBatch, CancelRunBatch, DeleteRunBatch) so far."""

    def busy(self) -> None:
        """A batch call made work: the next :meth:`step` looks for it."""
        self._calls += 1
        self._idle_until = 0.0

    def step(self, budget: float = 0.5) -> bool:
        """Advance every unfinished batch, spending about ``budget`` seconds at most; ``True`` if work was done.

        Safe to call from several threads (one steps, the others return ``False``) and after a restart.
        """
        if time.monotonic() < self._idle_until or not self._stepping.acquire(blocking=False):
            return False
        try:
            deadline = time.monotonic() + budget
            calls = self._calls
            with self.store.read() as conn:
                batches = repo.in_status(conn, _ADVANCING)
            if not batches and calls == self._calls:  # the scheduler steps every tick: rest until a call comes
                self._idle_until = time.monotonic() + IDLE_RECHECK_SECONDS
            did = False
            for batch_id, _ in batches:
                try:
                    did = self._advance(batch_id, deadline) or did
                except Exception:  # one broken batch must not stop the others; the next step retries it
                    logger.exception("batch.step_failed id=%s", batch_id)
                if time.monotonic() >= deadline:
                    break
            return did
        finally:
            self._stepping.release()

    def _advance(self, batch_id: str, deadline: float) -> bool:
        with self.store.read() as conn:
            record = repo.get(conn, batch_id)
        if record is None:
            return False
        try:
            if record.status == _B.CREATING:
                return self.transition(record, _B.PENDING)
            if record.status == _B.PENDING:
                return self._read_settings(record)
            if record.status == _B.SUBMITTING:
                return self._submit(record, deadline)
            if record.status == _B.INPROGRESS:
                return self._finish_when_done(record, _B.PROCESSED)
            if record.status == _B.STOPPING:
                return self._cancel_some(record, deadline)
            if record.status == _B.RUNS_DELETING:
                return self._delete_some(record, deadline)
        except ConflictError as exc:
            logger.warning("batch.step_conflict id=%s: %s", batch_id, exc.message)
        return False

    def _read_settings(self, record: BatchRecord) -> bool:
        try:
            entries = self.work.entries(record)
        except ValidationError as exc:
            return self._fail(record, exc.message)
        if self.transition(record, _B.SUBMITTING, total_runs=len(entries)):
            self._entries[record.id] = entries
        return True

    def _submit(self, record: BatchRecord, deadline: float) -> bool:
        entries = self._entries.get(record.id)
        try:
            if entries is None:  # after a restart
                entries = self._entries[record.id] = self.work.entries(record)
            with self.store.read() as conn:
                workflow = self.work.workflow(conn, record.default_run_setting)
        except (ValidationError, NotFoundError, ConflictError) as exc:
            return self._fail(record, exc.message)
        while True:
            done, created = self.work.submit_chunk(record.id, entries, workflow)
            if created:
                self.runs.queued(record.run_group_id)
            if done < 0:
                self.forget(record.id)
                return True
            if done >= len(entries):
                self.forget(record.id)
                self.transition(record, _B.INPROGRESS)
                return True
            if time.monotonic() >= deadline:
                return True

    def _finish_when_done(self, record: BatchRecord, target: BatchStatus) -> bool:
        now = time.monotonic()
        if now < self._checked.get(record.id, 0.0):
            return False
        self._checked[record.id] = now + self.check_interval
        with self.store.read() as conn:
            if repo.has_active_runs(conn, record.id):
                return False
        self._checked.pop(record.id, None)
        return self.transition(record, target)

    def _cancel_some(self, record: BatchRecord, deadline: float) -> bool:
        self._entries.pop(record.id, None)
        return self._sweep(record, deadline, self.work.cancel_chunk, _B.CANCELLED)

    def _delete_some(self, record: BatchRecord, deadline: float) -> bool:
        return self._sweep(record, deadline, self.work.delete_chunk, None)

    def _sweep(
        self,
        record: BatchRecord,
        deadline: float,
        chunk: Callable[[str, int], int | None],
        finished: BatchStatus | None,
    ) -> bool:
        """Run ``chunk`` over the batch's settings in order (a cursor per batch), then finish the operation."""
        key = (record.id, record.status)
        did = False
        while (after := self._cursors.get(key, -1)) is not None:
            self._cursors[key] = chunk(record.id, after)
            did = True
            if time.monotonic() >= deadline:
                return True
        if finished is not None:  # cancel: done once every run has stopped
            moved = self._finish_when_done(record, finished)
        else:
            with self.store.read() as conn:
                failed = repo.any_failed(conn, record.id, SubmissionStatus.DELETE_FAILED)
            moved = self.transition(record, _B.RUNS_DELETE_FAILED if failed else _B.RUNS_DELETED)
        if moved:
            self._cursors.pop(key, None)
        return moved or did

    def _fail(self, record: BatchRecord, reason: str) -> bool:
        self.forget(record.id)
        logger.info("batch.failed id=%s reason=%s", record.id, reason)
        return self.transition(record, _B.FAILED, failure_reason=reason)

    def forget(self, batch_id: str) -> None:
        """Drop what is remembered of a batch (it failed, finished submitting or was deleted)."""
        self._entries.pop(batch_id, None)
        self._checked.pop(batch_id, None)
        for key in list(self._cursors):  # a copy: the step thread may add keys meanwhile
            if key[0] == batch_id:
                self._cursors.pop(key, None)
