"""Tasks of a run: GetRunTask, ListRunTasks and the task ``transition()`` choke point.

Owns: reading tasks and every task status change. Must not: run anything; tasks are created and advanced by
the engine events :mod:`omicsd.services.run_events` applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain.ids import Arns
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.states import TASK_TRANSITIONS, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.domain.transitions import decide
from omicsd.errors import ConflictError, NotFoundError
from omicsd.logs import streams
from omicsd.store import Store
from omicsd.store import runs as run_store
from omicsd.store import tasks as repo


@dataclass(frozen=True)
class TaskView:
    """A task with its log stream ARN."""

    record: TaskRecord
    log_stream: str


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
