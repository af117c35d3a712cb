"""Workflow and workflow-version persistence.

Owns: loading and saving :class:`~omicsd.domain.workflows.WorkflowRecord` rows, keyset listing and the
compare-and-set status update behind ``services.workflows.transition``.
Must not: decide anything (which transitions are allowed, what a request means).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.domain.states import WorkflowStatus
from omicsd.domain.workflows import DEFAULT_VERSION, WorkflowRecord
from omicsd.store._rows import to_record, to_values
from omicsd.store.tables import workflows

_LIVE = workflows.c.status != WorkflowStatus.DELETED.value


def insert(conn: Connection, record: WorkflowRecord) -> None:
    """Insert a new workflow or version (raises IntegrityError when the key exists)."""
    conn.execute(sa.insert(workflows).values(**to_values(record), row_version=0))


def exists(conn: Connection, workflow_id: str) -> bool:
    """Whether any row (live or deleted) uses ``workflow_id``; used to keep new IDs unique."""
    query = sa.select(sa.literal(1)).where(workflows.c.id == workflow_id).limit(1)
    return conn.execute(query).first() is not None


def get(conn: Connection, workflow_id: str, version_name: str = DEFAULT_VERSION) -> WorkflowRecord | None:
    """A live workflow (or version), or ``None``."""
    row = (
        conn.execute(
            sa.select(workflows).where(workflows.c.id == workflow_id, workflows.c.version_name == version_name, _LIVE)
        )
        .mappings()
        .first()
    )
    return to_record(WorkflowRecord, row) if row else None


def list_page(
    conn: Connection,
    *,
    workflow_id: str | None,
    name: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> list[WorkflowRecord]:
    """Live workflows (``workflow_id`` None) or the versions of one workflow, newest first."""
    query = sa.select(workflows).where(_LIVE)
    if workflow_id is None:
        query = query.where(workflows.c.version_name == DEFAULT_VERSION)
    else:
        query = query.where(workflows.c.id == workflow_id, workflows.c.version_name != DEFAULT_VERSION)
    if name is not None:
        query = query.where(workflows.c.name == name)
    order = (workflows.c.creation_time.desc(), workflows.c.id.desc(), workflows.c.version_name.desc())
    if after is not None:
        created, wid, version = after
        query = query.where(
            sa.tuple_(workflows.c.creation_time, workflows.c.id, workflows.c.version_name)
            < sa.tuple_(sa.literal(created, workflows.c.creation_time.type), sa.literal(wid), sa.literal(version))
        )
    rows = conn.execute(query.order_by(*order).limit(limit)).mappings()
    return [to_record(WorkflowRecord, row) for row in rows]


def count_versions(conn: Connection, workflow_id: str) -> int:
    """Live named versions of a workflow."""
    query = sa.select(sa.func.count()).where(
        workflows.c.id == workflow_id, workflows.c.version_name != DEFAULT_VERSION, _LIVE
    )
    return int(conn.execute(query).scalar_one())


def update(conn: Connection, workflow_id: str, version_name: str, values: Mapping[str, Any]) -> bool:
    """Update fields of a live row; ``False`` when there is none."""
    result = conn.execute(
        sa.update(workflows)
        .where(workflows.c.id == workflow_id, workflows.c.version_name == version_name, _LIVE)
        .values(**values, row_version=workflows.c.row_version + 1)
    )
    return result.rowcount == 1


def compare_and_set_status(
    conn: Connection,
    workflow_id: str,
    version_name: str,
    *,
    current: WorkflowStatus,
    target: WorkflowStatus,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Move a row from ``current`` to ``target`` (plus other columns); ``False`` when the status changed."""
    result = conn.execute(
        sa.update(workflows)
        .where(
            workflows.c.id == workflow_id,
            workflows.c.version_name == version_name,
            workflows.c.status == current.value,
        )
        .values(**(values or {}), status=target.value, row_version=workflows.c.row_version + 1)
    )
    return result.rowcount == 1


def ids_in_status(conn: Connection, status: WorkflowStatus) -> list[tuple[str, str]]:
    """``(id, version_name)`` of every row in ``status`` (to resume interrupted work after a restart)."""
    rows = conn.execute(sa.select(workflows.c.id, workflows.c.version_name).where(workflows.c.status == status.value))
    return [(r[0], r[1]) for r in rows]
