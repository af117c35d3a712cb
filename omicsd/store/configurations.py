"""Configuration persistence.

Owns: every query on the ``configurations`` table, plus the two questions DeleteConfiguration asks of other
tables (active runs and not-yet-submitted batches that name a configuration).
Must not: decide which transitions are allowed (``services.configurations.transition`` does).
Deleted configurations stay as tombstones (status DELETED): every read for the API hides them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.configurations import ConfigurationRecord, ConfigurationStatus
from omicsd.domain.states import RUN_ACTIVE
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import batches, configurations, runs

_LIVE = configurations.c.status != ConfigurationStatus.DELETED.value


def insert(conn: Connection, record: ConfigurationRecord) -> None:
    """Insert a new configuration (IntegrityError when the name is taken, even by a tombstone)."""
    conn.execute(sa.insert(configurations).values(**to_values(record)))


def get(
    conn: Connection, name: str, *, include_deleted: bool = False, lock: str | None = None
) -> ConfigurationRecord | None:
    """A live configuration (or, with ``include_deleted``, its tombstone), or ``None``.

    ``lock`` ``"share"`` or ``"update"`` row-locks it on PostgreSQL until the transaction ends, so a run being
    created and a DeleteConfiguration cannot both succeed (SQLite write transactions are serialized anyway).
    """
    query = sa.select(configurations).where(configurations.c.name == name)
    if not include_deleted:
        query = query.where(_LIVE)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    row = conn.execute(query).mappings().first()
    return to_record(ConfigurationRecord, row) if row else None


def purge(conn: Connection, name: str) -> None:
    """Drop the tombstone of a deleted configuration so its name can be used again."""
    conn.execute(
        sa.delete(configurations).where(
            configurations.c.name == name, configurations.c.status == ConfigurationStatus.DELETED.value
        )
    )


def count_live(conn: Connection) -> int:
    """Configurations that count against the per-account limit."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(configurations).where(_LIVE)).scalar_one())


def names_in_status(conn: Connection, status: ConfigurationStatus) -> list[str]:
    """Names of every configuration in ``status``."""
    query = sa.select(configurations.c.name).where(configurations.c.status == status.value)
    return [str(name) for name in conn.execute(query).scalars()]


def list_page(conn: Connection, *, after: Sequence[Any] | None, limit: int) -> list[ConfigurationRecord]:
    """Live configurations, newest first."""
    query = sa.select(configurations).where(_LIVE)
    if after is not None:
        created, name = after
        query = query.where(
            sa.tuple_(configurations.c.creation_time, configurations.c.name)
            < sa.tuple_(sa.literal(created, configurations.c.creation_time.type), sa.literal(name))
        )
    query = query.order_by(configurations.c.creation_time.desc(), configurations.c.name.desc()).limit(limit)
    return [to_record(ConfigurationRecord, row) for row in conn.execute(query).mappings()]


def compare_and_set(conn: Connection, name: str, *, current: ConfigurationStatus, values: Mapping[str, Any]) -> bool:
    """Update a configuration only if it is still in ``current``; ``False`` when it moved on."""
    result = conn.execute(
        sa.update(configurations)
        .where(configurations.c.name == name, configurations.c.status == current.value)
        .values(**values)
    )
    return result.rowcount == 1


def active_runs_using(conn: Connection, name: str) -> int:
    """Runs not yet finished that use the configuration."""
    query = (
        sa.select(sa.func.count())
        .select_from(runs)
        .where(runs.c.configuration_name == name, runs.c.status.in_([s.value for s in RUN_ACTIVE]))
    )
    return int(conn.execute(query).scalar_one())


def batches_using(conn: Connection, name: str, statuses: Sequence[str]) -> list[str]:
    """IDs of batches in ``statuses`` whose default run setting names the configuration."""
    query = sa.select(batches.c.id, batches.c.default_run_setting).where(batches.c.status.in_(list(statuses)))
    return [
        str(batch_id)
        for batch_id, setting in conn.execute(query)
        if isinstance(setting, Mapping) and setting.get("configurationName") == name
    ]
