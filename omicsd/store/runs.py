"""Run persistence: insert, read, filtered keyset listing, compare-and-set updates and the scheduler's queries.

Owns: every query on the ``runs`` table, including the narrow ones of hot paths (the admission queue, the state
columns bulk status changes read) and the set-based compare-and-set of many runs. Deleted runs stay as tombstones
(status DELETED) so IDs and batch counters stay consistent; every read for the API hides them.
Must not: decide which transitions are allowed (``services.runs.transition`` does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, get_type_hints

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.run_groups import QUEUED_FIELDS, QueuedRun
from omicsd.domain.runs import STATE_FIELDS, SUMMARY_FIELDS, RunRecord, RunState, RunSummary
from omicsd.domain.states import RunStatus
from omicsd.store import Store
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import runs, tags

_LIVE = runs.c.status != RunStatus.DELETED.value
_IN_CHUNK = 500
"""IDs per ``IN (...)`` list, rendered inline (``literal_execute``; they are IDs omicsd made), as in
:mod:`omicsd.store.batches`: a statement text that never repeats never gets a stale generic plan."""


def insert(conn: Connection, record: RunRecord) -> None:
    """Insert a new run (IntegrityError when the ID is taken)."""
    conn.execute(_INSERT, {**to_values(record), "row_version": 0})


_INSERT = sa.insert(runs)
"""Built once, values passed as parameters: a ``values(...)`` statement of some fifty literals costs StartRun more
to build and to key for the statement cache than to run."""


def id_taken(conn: Connection, run_id: str) -> bool:
    """Whether a live run uses ``run_id`` (tombstones of deleted runs are replaced)."""
    return conn.execute(_ID_TAKEN, {"run_id": run_id}).first() is not None


_ID_TAKEN = sa.select(runs.c.status).where(runs.c.id == sa.bindparam("run_id"))


def purge_tombstone(conn: Connection, run_id: str) -> None:
    """Drop the tombstone of a deleted run so its ID can be reused."""
    conn.execute(sa.delete(runs).where(runs.c.id == run_id, runs.c.status == RunStatus.DELETED.value))


def get(conn: Connection, run_id: str) -> RunRecord | None:
    """A live run, or ``None``."""
    row = conn.execute(sa.select(runs).where(runs.c.id == run_id, _LIVE)).mappings().first()
    return to_record(RunRecord, row) if row else None


def read_with_tags(store: Store, run_id: str, arn: str) -> tuple[RunRecord, dict[str, str]] | None:
    """A live run and the tags of ``arn`` (its ARN) in one statement of its own, or ``None`` (GetRun's read)."""
    rows = store.prepared(_GET_WITH_TAGS).rows(run_id=run_id, arn=arn)
    if not rows:
        return None
    values = list(rows[0][:_RECORD_WIDTH])
    for at, enum in _RECORD_ENUMS:
        if values[at] is not None:
            values[at] = enum(values[at])
    return RunRecord(*values), {row[-2]: row[-1] for row in rows if row[-2] is not None}


_RECORD_FIELDS = dataclasses.fields(RunRecord)
_RECORD_WIDTH = len(_RECORD_FIELDS)
_RECORD_ENUMS = tuple(
    (at, hint)
    for at, hint in enumerate(get_type_hints(RunRecord)[f.name] for f in _RECORD_FIELDS)
    if isinstance(hint, type) and issubclass(hint, StrEnum)
)
"""Positions of the record's enum fields (stored as their string values) and their types."""
_GET_WITH_TAGS = (
    sa.select(*(runs.c[f.name] for f in _RECORD_FIELDS), tags.c.key, tags.c.value)
    .select_from(runs.outerjoin(tags, tags.c.resource_arn == sa.bindparam("arn")))
    .where(runs.c.id == sa.bindparam("run_id"), _LIVE)
)
"""Built once: GetRun is the hottest read, and building the statement costs more than running it. The record's
columns come first, in field order, so rows map to :class:`RunRecord` by position; tag key and value are last."""


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


def queued(
    conn: Connection, *, limit: int, higher_first: bool = True, skip_groups: Collection[str] = ()
) -> list[QueuedRun]:
    """PENDING runs in admission order (priority, absent = 0, then creation time): only what admission reads.

    Runs of ``skip_groups`` (groups at their ``maxRuns``) are left out, so a full group's queue is not read.
    """
    priority = sa.func.coalesce(runs.c.priority, 0)
    order = priority.desc() if higher_first else priority.asc()
    query = sa.select(*_QUEUED_COLUMNS).where(runs.c.status == RunStatus.PENDING.value)
    if skip_groups:
        skipped: sa.BindParameter[str] = sa.bindparam(
            "skipped", sorted(skip_groups), expanding=True, literal_execute=True
        )
        query = query.where(sa.or_(runs.c.run_group_id.is_(None), runs.c.run_group_id.not_in(skipped)))
    query = query.order_by(order, runs.c.creation_time.asc(), runs.c.id.asc()).limit(limit)
    return [QueuedRun(*row) for row in conn.execute(query)]


_QUEUED_COLUMNS = tuple(runs.c[name] for name in QUEUED_FIELDS)


def states(conn: Connection, run_ids: Iterable[str]) -> dict[str, RunState]:
    """The state columns of runs by ID (tombstones of deleted runs included), 500 IDs per statement."""
    wanted = list(run_ids)
    found: dict[str, RunState] = {}
    status_of = RunStatus
    for part in _id_lists(wanted):
        for row in conn.execute(sa.select(*_STATE_COLUMNS).where(runs.c.id.in_(part))):
            found[row[0]] = RunState(row[0], row[1], status_of(row[2]), *row[3:])
    return found


_STATE_COLUMNS = tuple(runs.c[name] for name in STATE_FIELDS)


def compare_and_set_many(
    conn: Connection, run_ids: Sequence[str], *, current: RunStatus, values: Mapping[str, Any]
) -> set[str]:
    """Update the runs among ``run_ids`` that are still in ``current``, 500 per statement.

    Returns:
        The IDs updated; the others had moved on (or do not exist).
    """
    done: set[str] = set()
    for part in _id_lists(run_ids):
        statement = (
            sa.update(runs)
            .where(runs.c.id.in_(part), runs.c.status == current.value)
            .values(**values, row_version=runs.c.row_version + 1)
            .returning(runs.c.id)
        )
        done.update(str(run_id) for run_id in conn.execute(statement).scalars())
    return done


def _id_lists(run_ids: Sequence[str]) -> Iterable[sa.BindParameter[str]]:
    for start in range(0, len(run_ids), _IN_CHUNK):
        yield sa.bindparam("ids", list(run_ids[start : start + _IN_CHUNK]), expanding=True, literal_execute=True)


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
