"""Task persistence: insert, read, list by run in creation order, compare-and-set status updates.

Owns: every query on the ``tasks`` table. Must not: decide transitions (``services.tasks`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.states import TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import tasks


def insert(conn: Connection, record: TaskRecord) -> None:
    """Insert a task attempt."""
    conn.execute(sa.insert(tasks).values(**to_values(record)))


def get(conn: Connection, run_id: str, task_id: str) -> TaskRecord | None:
    """One task of a run, or ``None``."""
    row = conn.execute(sa.select(tasks).where(tasks.c.run_id == run_id, tasks.c.task_id == task_id)).mappings().first()
    return to_record(TaskRecord, row) if row else None


def next_seq(conn: Connection, run_id: str) -> int:
    """The creation-order number of a run's next task."""
    value = conn.execute(sa.select(sa.func.max(tasks.c.seq)).where(tasks.c.run_id == run_id)).scalar()
    return int(value or 0) + 1


def list_page(
    conn: Connection, run_id: str, *, status: str | None, after_seq: int | None, limit: int
) -> list[TaskRecord]:
    """Tasks of a run in creation order."""
    query = sa.select(tasks).where(tasks.c.run_id == run_id)
    if status is not None:
        query = query.where(tasks.c.status == status)
    if after_seq is not None:
        query = query.where(tasks.c.seq > after_seq)
    query = query.order_by(tasks.c.seq).limit(limit)
    return [to_record(TaskRecord, row) for row in conn.execute(query).mappings()]


def active(conn: Connection, run_id: str) -> list[TaskRecord]:
    """Tasks of a run that have not finished."""
    query = sa.select(tasks).where(
        tasks.c.run_id == run_id,
        tasks.c.status.in_(
            [s.value for s in (TaskStatus.PENDING, TaskStatus.STARTING, TaskStatus.RUNNING, TaskStatus.STOPPING)]
        ),
    )
    return [to_record(TaskRecord, row) for row in conn.execute(query).mappings()]


def compare_and_set(
    conn: Connection, run_id: str, task_id: str, *, current: TaskStatus, values: Mapping[str, Any]
) -> bool:
    """Update a task only if it is still in ``current``."""
    result = conn.execute(
        sa.update(tasks)
        .where(tasks.c.run_id == run_id, tasks.c.task_id == task_id, tasks.c.status == current.value)
        .values(**values)
    )
    return result.rowcount == 1


def delete_for_run(conn: Connection, run_id: str) -> None:
    """Forget the tasks of a deleted run."""
    conn.execute(sa.delete(tasks).where(tasks.c.run_id == run_id))
