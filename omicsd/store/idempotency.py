"""Idempotency keys: (operation, caller, requestId) -> the resource a create request made.

Owns: claiming a key inside the create transaction and finding an existing one. The primary key makes a
concurrent duplicate fail with IntegrityError, which the service turns into "return the first resource".
Must not: decide what "same request" means (the service passes a fingerprint of the parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.store.tables import idempotency_keys


@dataclass(frozen=True)
class IdempotencyKey:
    """A remembered create request."""

    fingerprint: str
    resource_id: str


def find(conn: Connection, operation: str, caller: str, request_id: str) -> IdempotencyKey | None:
    """The resource an earlier request with the same key created, if any."""
    row = conn.execute(_FIND, {"operation": operation, "caller": caller, "request_id": request_id}).first()
    return IdempotencyKey(fingerprint=row[0], resource_id=row[1]) if row else None


_FIND = sa.select(idempotency_keys.c.fingerprint, idempotency_keys.c.resource_id).where(
    idempotency_keys.c.operation == sa.bindparam("operation"),
    idempotency_keys.c.caller == sa.bindparam("caller"),
    idempotency_keys.c.request_id == sa.bindparam("request_id"),
)
"""Statements built once: every create request runs them."""


def claim(
    conn: Connection,
    operation: str,
    caller: str,
    request_id: str,
    *,
    fingerprint: str,
    resource_id: str,
    now: datetime,
) -> None:
    """Record the key (IntegrityError when a concurrent request claimed it first)."""
    conn.execute(
        _CLAIM,
        {
            "operation": operation,
            "caller": caller,
            "request_id": request_id,
            "fingerprint": fingerprint,
            "resource_id": resource_id,
            "creation_time": now,
        },
    )


_CLAIM = sa.insert(idempotency_keys)
