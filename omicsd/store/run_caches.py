"""Run cache persistence.

Owns: every query on the ``run_caches`` table. Must not: decide anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.run_caches import RunCacheRecord
from omicsd.domain.states import RunStatus
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import run_caches, runs


def insert(conn: Connection, record: RunCacheRecord) -> None:
    """Insert a new run cache."""
    conn.execute(sa.insert(run_caches).values(**to_values(record)))


def get(conn: Connection, cache_id: str) -> RunCacheRecord | None:
    """A run cache, or ``None``."""
    row = conn.execute(sa.select(run_caches).where(run_caches.c.id == cache_id)).mappings().first()
    return to_record(RunCacheRecord, row) if row else None


def count(conn: Connection) -> int:
    """How many run caches exist."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(run_caches)).scalar_one())


def list_page(conn: Connection, *, after: Sequence[Any] | None, limit: int) -> list[RunCacheRecord]:
    """Run caches, newest first."""
    query = sa.select(run_caches)
    if after is not None:
        created, cache_id = after
        query = query.where(
            sa.tuple_(run_caches.c.creation_time, run_caches.c.id)
            < sa.tuple_(sa.literal(created, run_caches.c.creation_time.type), sa.literal(cache_id))
        )
    query = query.order_by(run_caches.c.creation_time.desc(), run_caches.c.id.desc()).limit(limit)
    return [to_record(RunCacheRecord, row) for row in conn.execute(query).mappings()]


def update(conn: Connection, cache_id: str, values: Mapping[str, Any]) -> None:
    """Change fields of a run cache."""
    conn.execute(sa.update(run_caches).where(run_caches.c.id == cache_id).values(**values))


def delete(conn: Connection, cache_id: str) -> None:
    """Remove a run cache's metadata (its S3 data stays)."""
    conn.execute(sa.delete(run_caches).where(run_caches.c.id == cache_id))


def in_use(conn: Connection, cache_id: str) -> bool:
    """Whether an unfinished run uses the cache."""
    unfinished = [s.value for s in (RunStatus.PENDING, RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPING)]
    query = sa.select(sa.literal(1)).where(runs.c.cache_id == cache_id, runs.c.status.in_(unfinished)).limit(1)
    return conn.execute(query).first() is not None
