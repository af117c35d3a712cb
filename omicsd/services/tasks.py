"""Tasks of a run: GetRunTask, ListRunTasks and the task ``transition()`` choke point (one task or a batch).

Owns: reading tasks and every task status change (:meth:`TaskService.transition_in` for one task,
:meth:`TaskService.apply_batch` for the steps of many tasks from one journal read).
Must not: run anything; tasks are created and advanced by
the engine events :mod:`omicsd.services.run_events` applies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain.ids import Arns
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.states import TASK_TERMINAL, TASK_TRANSITIONS, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.domain.transitions import decide
from omicsd.errors import ConflictError, NotFoundError
from omicsd.logs import streams
from omicsd.store import Store
from omicsd.store import runs as run_store
from omicsd.store import tasks as repo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskView:
    """A task with its log stream ARN."""

    record: TaskRecord
    log_stream: str


@dataclass(frozen=True)
class TaskChange:
    """One step of one task in a batch: create it (``new``) or move it to ``target``."""

    task_id: str
    """The task the step is about."""
    target: TaskStatus | None = None
    """The status to move to; ``None`` for a creation."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """Columns written with the move."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Columns written with the move only where the task has no value yet."""
    new: TaskRecord | None = None
    """The PENDING task a creation inserts (its ``seq`` is assigned by :meth:`TaskService.apply_batch`)."""

    @classmethod
    def create(cls, record: TaskRecord) -> TaskChange:
        """A creation step."""
        return cls(task_id=record.task_id, new=record)


class TaskService:
    """Use cases of tasks."""

    def __init__(self, store: Store, *, arns: Arns) -> None:
        self.store = store
        self.arns = arns

    def get(self, run_id: str, task_id: str) -> TaskView:
        """GetRunTask.

        Raises:
            NotFoundError: no such run or task.
        """
        with self.store.read() as conn:
            if run_store.get(conn, run_id) is None:
                raise NotFoundError(f"Run {run_id} not found")
            record = repo.get(conn, run_id, task_id)
        if record is None:
            raise NotFoundError(f"Task {task_id} of run {run_id} not found")
        return TaskView(record, self.log_stream_arn(run_id, task_id))

    def list(
        self, run_id: str, *, status: str | None = None, token: str | None = None, max_results: int | None = None
    ) -> Page[TaskRecord]:
        """ListRunTasks in creation order.

        Raises:
            NotFoundError: no such run.
        """
        filters = {"run": run_id, "status": status}
        after = decode_token(token, filters)
        limit = page_size(max_results)
        with self.store.read() as conn:
            if run_store.get(conn, run_id) is None:
                raise NotFoundError(f"Run {run_id} not found")
            records = repo.list_page(
                conn, run_id, status=status, after_seq=int(after[0]) if after else None, limit=limit + 1
            )
        more = len(records) > limit
        records = records[:limit]
        next_token = encode_token([records[-1].seq], filters) if more else None
        return Page(records, next_token)

    def log_stream_arn(self, run_id: str, task_id: str) -> str:
        """The CloudWatch-style ARN of a task's log stream."""
        return streams.stream_arn(
            self.arns.region, self.arns.account_id, streams.LOG_GROUP, streams.task_stream(run_id, task_id)
        )

    def transition_in(self, conn: Connection, record: TaskRecord, target: TaskStatus, **values: Any) -> bool:
        """Move a task to ``target`` (compare-and-set) inside the caller's transaction.

        Raises:
            ConflictError: the transition tables forbid the change.
        """
        decision = decide(TASK_TRANSITIONS, record.label, record.status, target)
        if decision.noop:
            return False
        if not decision.accepted:
            raise ConflictError(decision.reason)
        return repo.compare_and_set(
            conn, record.run_id, record.task_id, current=record.status, values={**values, "status": target.value}
        )

    def apply_batch(
        self, conn: Connection, run_id: str, changes: Sequence[TaskChange]
    ) -> tuple[TaskRecord | None, ...]:
        """Apply engine steps of many tasks of a run with a few statements, inside the caller's transaction.

        Steps are folded per task in memory, in order, and every move is checked with the transition tables
        exactly as :meth:`transition_in` checks it. A creation of a task that exists is ignored; a move of an
        unknown or finished task is ignored. Then tasks created here are inserted once, in their final state
        and creation order (``seq`` continues the run's sequence), and every other task gets one
        compare-and-set update from the status it had before the batch.

        Returns:
            For each step, the task after it (unchanged for a move to its current status), or ``None`` when the
            step was ignored.

        Raises:
            ConflictError: the transition tables forbid a move.
        """
        before = {record.task_id: record for record in repo.tasks_for(conn, run_id, {c.task_id for c in changes})}
        state: dict[str, TaskRecord] = dict(before)
        created: dict[str, TaskRecord] = {}
        written: dict[str, dict[str, Any]] = {}
        next_seq: int | None = None
        results: list[TaskRecord | None] = []
        for change in changes:
            current = state.get(change.task_id)
            if change.new is not None:
                if current is not None:
                    results.append(None)
                    continue
                if next_seq is None:
                    next_seq = repo.next_seq(conn, run_id)
                record = replace(change.new, run_id=run_id, seq=next_seq, status=TaskStatus.PENDING)
                next_seq += 1
                state[change.task_id] = created[change.task_id] = record
                results.append(record)
                continue
            if current is None or current.status in TASK_TERMINAL or change.target is None:
                results.append(None)
                continue
            decision = decide(TASK_TRANSITIONS, current.label, current.status, change.target)
            if decision.noop:
                results.append(current)
                continue
            if not decision.accepted:
                raise ConflictError(decision.reason)
            values = {name: value for name, value in change.defaults.items() if getattr(current, name) is None}
            values.update(change.values)
            record = replace(current, status=change.target, **values)
            state[change.task_id] = record
            if change.task_id in created:
                created[change.task_id] = record
            else:
                written.setdefault(change.task_id, {}).update(values, status=change.target.value)
            results.append(record)
        repo.insert_many(conn, list(created.values()))
        updates = [(task_id, before[task_id].status, values) for task_id, values in written.items()]
        if updates and repo.compare_and_set_many(conn, run_id, updates) != len(updates):
            logger.warning("task.batch_conflict run=%s tasks=%d", run_id, len(updates))
        return tuple(results)
