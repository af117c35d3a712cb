"""Run group persistence.

Owns: every query on the ``run_groups`` table and the per-group count of active runs.
Must not: decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.run_groups import RunGroupRecord
from omicsd.domain.states import RunStatus
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import run_groups, runs

_ACTIVE = [RunStatus.STARTING.value, RunStatus.RUNNING.value, RunStatus.STOPPING.value]


def insert(conn: Connection, record: RunGroupRecord) -> None:
    """Insert a new run group."""
    conn.execute(sa.insert(run_groups).values(**to_values(record)))


def get(conn: Connection, group_id: str) -> RunGroupRecord | None:
    """A run group, or ``None``."""
    row = conn.execute(sa.select(run_groups).where(run_groups.c.id == group_id)).mappings().first()
    return to_record(RunGroupRecord, row) if row else None


def all_groups(conn: Connection) -> dict[str, RunGroupRecord]:
    """Every run group by ID (at most 1,000)."""
    return {row["id"]: to_record(RunGroupRecord, row) for row in conn.execute(sa.select(run_groups)).mappings()}


def count(conn: Connection) -> int:
    """How many run groups exist."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(run_groups)).scalar_one())


def list_page(conn: Connection, *, name: str | None, after: Sequence[Any] | None, limit: int) -> list[RunGroupRecord]:
    """Run groups, newest first."""
    query = sa.select(run_groups)
    if name is not None:
        query = query.where(run_groups.c.name == name)
    if after is not None:
        created, group_id = after
        query = query.where(
            sa.tuple_(run_groups.c.creation_time, run_groups.c.id)
            < sa.tuple_(sa.literal(created, run_groups.c.creation_time.type), sa.literal(group_id))
        )
    query = query.order_by(run_groups.c.creation_time.desc(), run_groups.c.id.desc()).limit(limit)
    return [to_record(RunGroupRecord, row) for row in conn.execute(query).mappings()]


def update(conn: Connection, group_id: str, values: Mapping[str, Any]) -> None:
    """Change fields of a run group."""
    conn.execute(sa.update(run_groups).where(run_groups.c.id == group_id).values(**values))


def delete(conn: Connection, group_id: str) -> None:
    """Remove a run group."""
    conn.execute(sa.delete(run_groups).where(run_groups.c.id == group_id))


def has_unfinished_runs(conn: Connection, group_id: str) -> bool:
    """Whether any run of the group is PENDING, STARTING, RUNNING or STOPPING."""
    unfinished = [RunStatus.PENDING.value, *_ACTIVE]
    query = sa.select(sa.literal(1)).where(runs.c.run_group_id == group_id, runs.c.status.in_(unfinished)).limit(1)
    return conn.execute(query).first() is not None


def active_counts(conn: Connection) -> dict[str, int]:
    """Active (STARTING, RUNNING, STOPPING) runs per run group."""
    query = (
        sa.select(runs.c.run_group_id, sa.func.count())
        .where(runs.c.status.in_(_ACTIVE), runs.c.run_group_id.is_not(None))
        .group_by(runs.c.run_group_id)
    )
    return {group_id: int(n) for group_id, n in conn.execute(query)}
