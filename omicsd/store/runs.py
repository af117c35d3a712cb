"""Run persistence: insert, read, filtered keyset listing, compare-and-set updates and the scheduler's queries.

Owns: every query on the ``runs`` table. Deleted runs stay as tombstones (status DELETED) so IDs and batch
counters stay consistent; every read for the API hides them.
Must not: decide which transitions are allowed (``services.runs.transition`` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.runs import SUMMARY_FIELDS, RunRecord, RunSummary
from omicsd.domain.states import RunStatus
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import runs, tags

_LIVE = runs.c.status != RunStatus.DELETED.value


def insert(conn: Connection, record: RunRecord) -> None:
    """Insert a new run (IntegrityError when the ID is taken)."""
    conn.execute(sa.insert(runs).values(**to_values(record), row_version=0))


def id_taken(conn: Connection, run_id: str) -> bool:
    """Whether a live run uses ``run_id`` (tombstones of deleted runs are replaced)."""
    return conn.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).first() is not None


def purge_tombstone(conn: Connection, run_id: str) -> None:
    """Drop the tombstone of a deleted run so its ID can be reused."""
    conn.execute(sa.delete(runs).where(runs.c.id == run_id, runs.c.status == RunStatus.DELETED.value))


def get(conn: Connection, run_id: str) -> RunRecord | None:
    """A live run, or ``None``."""
    row = conn.execute(sa.select(runs).where(runs.c.id == run_id, _LIVE)).mappings().first()
    return to_record(RunRecord, row) if row else None


def get_with_tags(conn: Connection, run_id: str, arn: str) -> tuple[RunRecord, dict[str, str]] | None:
    """A live run and the tags of ``arn`` (its ARN) in one statement, or ``None``."""
    rows = conn.execute(_GET_WITH_TAGS, {"run_id": run_id, "arn": arn}).mappings().all()
    if not rows:
        return None
    found = {row[_TAG_KEY]: row[_TAG_VALUE] for row in rows if row[_TAG_KEY] is not None}
    return to_record(RunRecord, rows[0]), found


_TAG_KEY, _TAG_VALUE = "__tag_key", "__tag_value"
_GET_WITH_TAGS = (
    sa.select(runs, tags.c.key.label(_TAG_KEY), tags.c.value.label(_TAG_VALUE))
    .select_from(runs.outerjoin(tags, tags.c.resource_arn == sa.bindparam("arn")))
    .where(runs.c.id == sa.bindparam("run_id"), _LIVE)
)
"""Built once: GetRun is the hottest read, and building the statement costs more than running it."""


def list_page(
    conn: Connection,
    *,
    name: str | None = None,
    run_group_id: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Live runs matching every given filter, newest first."""
    query = _page(sa.select(runs), name, run_group_id, batch_id, status, after, limit)
    return [to_record(RunRecord, row) for row in conn.execute(query).mappings()]


def list_summaries(
    conn: Connection,
    *,
    name: str | None = None,
    run_group_id: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 100,
) -> list[RunSummary]:
    """Like :func:`list_page`, but only the columns of a :class:`RunSummary` (what ListRuns shows)."""
    query = _page(sa.select(*_SUMMARY_COLUMNS), name, run_group_id, batch_id, status, after, limit)
    status_of = RunStatus
    return [RunSummary(row[0], status_of(row[1]), *row[2:]) for row in conn.execute(query)]


_SUMMARY_COLUMNS = tuple(runs.c[name] for name in SUMMARY_FIELDS)


def _page(
    query: sa.Select[Any],
    name: str | None,
    run_group_id: str | None,
    batch_id: str | None,
    status: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> sa.Select[Any]:
    query = query.where(_LIVE)
    if name is not None:
        query = query.where(runs.c.name == name)
    if run_group_id is not None:
        query = query.where(runs.c.run_group_id == run_group_id)
    if batch_id is not None:
        query = query.where(runs.c.batch_id == batch_id)
    if status is not None:
        query = query.where(runs.c.status == status)
    if after is not None:
        created, run_id = after
        query = query.where(
            sa.tuple_(runs.c.creation_time, runs.c.id)
            < sa.tuple_(sa.literal(created, runs.c.creation_time.type), sa.literal(run_id))
        )
    return query.order_by(runs.c.creation_time.desc(), runs.c.id.desc()).limit(limit)


def compare_and_set(conn: Connection, run_id: str, *, current: RunStatus, values: Mapping[str, Any]) -> bool:
    """Update a run only if it is still in ``current``; ``False`` when it moved on."""
    result = conn.execute(
        sa.update(runs)
        .where(runs.c.id == run_id, runs.c.status == current.value)
        .values(**values, row_version=runs.c.row_version + 1)
    )
    return result.rowcount == 1


def update(conn: Connection, run_id: str, values: Mapping[str, Any]) -> None:
    """Update non-status columns of a run (journal offset, outputs, driver identity, ...)."""
    conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))


def in_status(conn: Connection, statuses: Sequence[RunStatus]) -> list[RunRecord]:
    """Every run in one of ``statuses`` (the scheduler's working set)."""
    query = sa.select(runs).where(runs.c.status.in_([s.value for s in statuses]))
    return [to_record(RunRecord, row) for row in conn.execute(query).mappings()]


def pending(conn: Connection, *, limit: int, higher_first: bool = True) -> list[RunRecord]:
    """PENDING runs in admission order: priority (absent = 0), then creation time."""
    priority = sa.func.coalesce(runs.c.priority, 0)
    order = priority.desc() if higher_first else priority.asc()
    query = (
        sa.select(runs)
        .where(runs.c.status == RunStatus.PENDING.value)
        .order_by(order, runs.c.creation_time.asc(), runs.c.id.asc())
        .limit(limit)
    )
    return [to_record(RunRecord, row) for row in conn.execute(query).mappings()]


def count_stored(conn: Connection) -> int:
    """Runs that count against the stored-runs quota (every live run)."""
    return int(conn.execute(sa.select(sa.func.count()).where(_LIVE)).scalar_one())


def oldest_removable(conn: Connection, limit: int) -> list[RunRecord]:
    """Terminal runs with retentionMode REMOVE, oldest first (eviction candidates)."""
    terminal = [RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value]
    query = (
        sa.select(runs)
        .where(runs.c.retention_mode == "REMOVE", runs.c.status.in_(terminal))
        .order_by(runs.c.creation_time.asc(), runs.c.id.asc())
        .limit(limit)
    )
    return [to_record(RunRecord, row) for row in conn.execute(query).mappings()]
