"""Run batch persistence: batches, their per-setting rows, and the bulk run inserts behind batch submission.

Owns: every query on the ``batches`` and ``batch_runs`` tables, plus the set-based queries a batch makes of
``runs`` and ``tags`` (bulk insert of a chunk of runs and their tags, which run IDs are taken, the batch's runs
by status). A chunk's runs and its ``batch_runs`` rows are written in the caller's one transaction, so
``next_seq`` is exactly the number of settings already submitted.
Must not: decide which transitions are allowed (``services.batches.transition`` does) or build run records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, get_type_hints

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.batches import BatchRecord, BatchRunRecord, BatchStatus, SubmissionStatus
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RUN_ACTIVE
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import batch_runs, batches, runs, tags

_IN_CHUNK = 500
"""Values per ``IN (...)`` list. Lists are rendered inline (``literal_execute``; they are IDs omicsd made): a
statement text that never repeats never becomes a PostgreSQL prepared statement whose generic plan, made while
the table was still small, would scan the whole table on every later call."""
_ACTIVE_RUN = [s.value for s in RUN_ACTIVE]
_ENUM_FIELDS: dict[type[Any], tuple[str, ...]] = {}


# -- batches ------------------------------------------------------------------------------------------------


def insert(conn: Connection, record: BatchRecord) -> None:
    """Insert a new batch (IntegrityError when the ID is taken)."""
    conn.execute(sa.insert(batches).values(**to_values(record), row_version=0))


def exists(conn: Connection, batch_id: str) -> bool:
    """Whether a batch uses ``batch_id``."""
    return conn.execute(sa.select(batches.c.id).where(batches.c.id == batch_id)).first() is not None


def get(conn: Connection, batch_id: str, *, lock: bool = False) -> BatchRecord | None:
    """A batch, or ``None``; ``lock`` row-locks it until the transaction ends (PostgreSQL)."""
    query = sa.select(batches).where(batches.c.id == batch_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return to_record(BatchRecord, row) if row else None


def list_page(
    conn: Connection,
    *,
    status: str | None = None,
    name: str | None = None,
    run_group_id: str | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 100,
) -> list[BatchRecord]:
    """Batches matching every given filter, newest first."""
    query = sa.select(batches)
    if status is not None:
        query = query.where(batches.c.status == status)
    if name is not None:
        query = query.where(batches.c.name == name)
    if run_group_id is not None:
        query = query.where(batches.c.run_group_id == run_group_id)
    if after is not None:
        created, batch_id = after
        query = query.where(
            sa.tuple_(batches.c.creation_time, batches.c.id)
            < sa.tuple_(sa.literal(created, batches.c.creation_time.type), sa.literal(batch_id))
        )
    query = query.order_by(batches.c.creation_time.desc(), batches.c.id.desc()).limit(limit)
    return [to_record(BatchRecord, row) for row in conn.execute(query).mappings()]


def in_status(conn: Connection, statuses: Iterable[BatchStatus]) -> list[tuple[str, BatchStatus]]:
    """``(id, status)`` of every batch in one of ``statuses``, oldest first."""
    query = (
        sa.select(batches.c.id, batches.c.status)
        .where(batches.c.status.in_([s.value for s in statuses]))
        .order_by(batches.c.creation_time.asc(), batches.c.id.asc())
    )
    return [(str(batch_id), BatchStatus(status)) for batch_id, status in conn.execute(query)]


def compare_and_set(conn: Connection, batch_id: str, *, current: BatchStatus, values: Mapping[str, Any]) -> bool:
    """Update a batch only if it is still in ``current``; ``False`` when it moved on."""
    result = conn.execute(
        sa.update(batches)
        .where(batches.c.id == batch_id, batches.c.status == current.value)
        .values(**values, row_version=batches.c.row_version + 1)
    )
    return result.rowcount == 1


def delete(conn: Connection, batch_id: str) -> None:
    """Forget a batch and its per-setting rows (its runs are untouched)."""
    conn.execute(sa.delete(batch_runs).where(batch_runs.c.batch_id == batch_id))
    conn.execute(sa.delete(batches).where(batches.c.id == batch_id))


# -- batch_runs ---------------------------------------------------------------------------------------------


def next_seq(conn: Connection, batch_id: str) -> int:
    """Position of the first run setting not yet submitted."""
    found = conn.execute(sa.select(sa.func.max(batch_runs.c.seq)).where(batch_runs.c.batch_id == batch_id))
    last = found.scalar_one()
    return 0 if last is None else int(last) + 1


def insert_batch_runs(conn: Connection, records: Sequence[BatchRunRecord]) -> None:
    """Insert the rows of one submitted chunk."""
    if records:
        conn.execute(sa.insert(batch_runs), [_values(r) for r in records])


def submission_counts(conn: Connection, batch_id: str) -> dict[str, int]:
    """Number of the batch's run settings per submission status."""
    query = (
        sa.select(batch_runs.c.submission_status, sa.func.count())
        .where(batch_runs.c.batch_id == batch_id)
        .group_by(batch_runs.c.submission_status)
    )
    return {str(status): int(count) for status, count in conn.execute(query)}


def list_runs_page(
    conn: Connection,
    batch_id: str,
    *,
    submission_status: str | None = None,
    run_setting_id: str | None = None,
    run_id: str | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> list[BatchRunRecord]:
    """Run settings of a batch matching every given filter, in submission order."""
    query = sa.select(batch_runs).where(batch_runs.c.batch_id == batch_id)
    if submission_status is not None:
        query = query.where(batch_runs.c.submission_status == submission_status)
    if run_setting_id is not None:
        query = query.where(batch_runs.c.run_setting_id == run_setting_id)
    if run_id is not None:
        query = query.where(batch_runs.c.run_id == run_id)
    if after_seq is not None:
        query = query.where(batch_runs.c.seq > after_seq)
    query = query.order_by(batch_runs.c.seq.asc()).limit(limit)
    return [to_record(BatchRunRecord, row) for row in conn.execute(query).mappings()]


def set_submissions(
    conn: Connection, batch_id: str, outcomes: Sequence[tuple[str, SubmissionStatus, str | None, str | None]]
) -> None:
    """Record ``(run_setting_id, status, failure_reason, failure_message)`` for several settings at once.

    Settings sharing an outcome (the usual case: every run of a chunk cancelled or deleted) are updated 500 per
    statement; the others one by one in a single ``executemany``.
    """
    shared: dict[tuple[SubmissionStatus, str | None, str | None], list[str]] = {}
    for setting_id, status, reason, message in outcomes:
        shared.setdefault((status, reason, message), []).append(setting_id)
    single = []
    for (status, reason, message), setting_ids in shared.items():
        if len(setting_ids) == 1:
            single.append((setting_ids[0], status, reason, message))
            continue
        for start in range(0, len(setting_ids), _IN_CHUNK):
            part: sa.BindParameter[str] = sa.bindparam(
                "settings", setting_ids[start : start + _IN_CHUNK], expanding=True, literal_execute=True
            )
            conn.execute(
                sa.update(batch_runs)
                .where(batch_runs.c.batch_id == batch_id, batch_runs.c.run_setting_id.in_(part))
                .values(
                    submission_status=status.value,
                    submission_failure_reason=reason,
                    submission_failure_message=message,
                )
            )
    if single:
        conn.execute(
            _SET_SUBMISSION,
            [
                {"b_batch": batch_id, "b_setting": s, "b_status": status.value, "b_reason": r, "b_message": m}
                for s, status, r, m in single
            ],
        )


_SET_SUBMISSION = (
    sa.update(batch_runs)
    .where(batch_runs.c.batch_id == sa.bindparam("b_batch"))
    .where(batch_runs.c.run_setting_id == sa.bindparam("b_setting"))
    .values(
        submission_status=sa.bindparam("b_status"),
        submission_failure_reason=sa.bindparam("b_reason"),
        submission_failure_message=sa.bindparam("b_message"),
    )
)


def window(conn: Connection, batch_id: str, after_seq: int, limit: int) -> list[BatchRunRecord]:
    """The next ``limit`` run settings of a batch after position ``after_seq``, in order (an index range scan)."""
    query = (
        sa.select(batch_runs)
        .where(batch_runs.c.batch_id == batch_id, batch_runs.c.seq > after_seq)
        .order_by(batch_runs.c.seq.asc())
        .limit(limit)
    )
    return [to_record(BatchRunRecord, row) for row in conn.execute(query).mappings()]


def any_failed(conn: Connection, batch_id: str, status: SubmissionStatus) -> bool:
    """Whether any run setting of the batch ended in ``status``."""
    query = sa.select(batch_runs.c.seq).where(
        batch_runs.c.batch_id == batch_id, batch_runs.c.submission_status == status.value
    )
    return conn.execute(query.limit(1)).first() is not None


# -- the batch's runs ---------------------------------------------------------------------------------------


def insert_runs(conn: Connection, records: Sequence[RunRecord], batch_id: str, setting_ids: Sequence[str]) -> None:
    """Insert a chunk of new runs of a batch (``setting_ids[i]`` made ``records[i]``) with one statement."""
    rows = []
    for record, setting_id in zip(records, setting_ids, strict=True):
        row = _values(record)
        row.update(batch_id=batch_id, run_setting_id=setting_id, row_version=0)
        rows.append(row)
    if rows:
        conn.execute(sa.insert(runs), rows)


def _values(record: Any) -> dict[str, Any]:
    """:func:`omicsd.store._rows.to_values` for hot loops: a frozen dataclass's ``__dict__``, enums as values."""
    row = dict(vars(record))
    for name in _enum_fields(type(record)):
        row[name] = row[name].value
    return row


def _enum_fields(cls: type[Any]) -> tuple[str, ...]:
    found = _ENUM_FIELDS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = _ENUM_FIELDS[cls] = tuple(n for n, t in hints.items() if isinstance(t, type) and issubclass(t, StrEnum))
    return found


def insert_tags(conn: Connection, rows: Sequence[tuple[str, Mapping[str, str]]]) -> None:
    """Insert the tags of new resources, given as ``(arn, tags)``."""
    values = [{"resource_arn": arn, "key": k, "value": v} for arn, found in rows for k, v in found.items()]
    if values:
        conn.execute(sa.insert(tags), values)


def taken_run_ids(conn: Connection, candidates: Iterable[str]) -> set[str]:
    """Which of ``candidates`` a run (or a run's tombstone) already uses."""
    wanted = list(candidates)
    taken: set[str] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        part: sa.BindParameter[str] = sa.bindparam(
            "candidates", wanted[start : start + _IN_CHUNK], expanding=True, literal_execute=True
        )
        taken.update(str(i) for i in conn.execute(sa.select(runs.c.id).where(runs.c.id.in_(part))).scalars())
    return taken


def run_counts(conn: Connection, batch_id: str) -> dict[str, int]:
    """Number of the batch's runs per run status (deleted runs included)."""
    query = sa.select(runs.c.status, sa.func.count()).where(runs.c.batch_id == batch_id).group_by(runs.c.status)
    return {str(status): int(count) for status, count in conn.execute(query)}


def has_active_runs(conn: Connection, batch_id: str) -> bool:
    """Whether any run of the batch has not finished."""
    query = sa.select(runs.c.id).where(runs.c.batch_id == batch_id, runs.c.status.in_(_ACTIVE_RUN)).limit(1)
    return conn.execute(query).first() is not None
