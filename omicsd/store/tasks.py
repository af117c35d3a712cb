"""Task persistence: insert, read, list by run in creation order, compare-and-set status updates (one or many).

Owns: every query on the ``tasks`` table. Must not: decide transitions (``services.tasks`` does).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.states import TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import tasks

#: Task IDs per ``IN (...)`` query: well under SQLite's bound-parameter limit.
_IN_CHUNK = 500


def insert(conn: Connection, record: TaskRecord) -> None:
    """Insert a task attempt."""
    conn.execute(sa.insert(tasks).values(**to_values(record)))


def insert_many(conn: Connection, records: Sequence[TaskRecord]) -> None:
    """Insert task attempts with one multi-row statement (in the given order)."""
    if records:
        conn.execute(sa.insert(tasks), [to_values(record) for record in records])


def get(conn: Connection, run_id: str, task_id: str) -> TaskRecord | None:
    """One task of a run, or ``None``."""
    row = conn.execute(sa.select(tasks).where(tasks.c.run_id == run_id, tasks.c.task_id == task_id)).mappings().first()
    return to_record(TaskRecord, row) if row else None


def tasks_for(conn: Connection, run_id: str, task_ids: Collection[str]) -> list[TaskRecord]:
    """The tasks of a run among ``task_ids`` (unknown IDs are left out; no particular order)."""
    wanted = sorted(set(task_ids))
    found: list[TaskRecord] = []
    for start in range(0, len(wanted), _IN_CHUNK):
        query = sa.select(tasks).where(tasks.c.run_id == run_id, tasks.c.task_id.in_(wanted[start : start + _IN_CHUNK]))
        found.extend(to_record(TaskRecord, row) for row in conn.execute(query).mappings())
    return found


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


def compare_and_set_many(
    conn: Connection, run_id: str, changes: Sequence[tuple[str, TaskStatus, Mapping[str, Any]]]
) -> int:
    """Apply ``(task_id, current, values)`` updates, each only if the task is still in ``current``.

    Updates that set the same columns share one executemany statement. Returns how many tasks were updated
    (the number of changes when the driver cannot count rows of an executemany).
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for task_id, current, values in changes:
        row = {f"v_{name}": value for name, value in values.items()}
        row.update(b_run_id=run_id, b_task_id=task_id, b_status=current.value)
        groups.setdefault(tuple(sorted(values)), []).append(row)
    updated = 0
    for names, rows in groups.items():
        statement = (
            sa.update(tasks)
            .where(
                tasks.c.run_id == sa.bindparam("b_run_id"),
                tasks.c.task_id == sa.bindparam("b_task_id"),
                tasks.c.status == sa.bindparam("b_status"),
            )
            .values({name: sa.bindparam(f"v_{name}", type_=tasks.c[name].type) for name in names})
        )
        result = conn.execute(statement, rows)
        updated += result.rowcount if len(rows) == 1 or result.supports_sane_multi_rowcount() else len(rows)
    return updated


def delete_for_run(conn: Connection, run_id: str) -> None:
    """Forget the tasks of a deleted run."""
    conn.execute(sa.delete(tasks).where(tasks.c.run_id == run_id))


def delete_for_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """Forget the tasks of many deleted runs (500 runs per statement)."""
    for start in range(0, len(run_ids), _IN_CHUNK):
        conn.execute(sa.delete(tasks).where(tasks.c.run_id.in_(list(run_ids[start : start + _IN_CHUNK]))))
