"""requestId idempotency for every create operation.

A create runs inside one write transaction that also claims the key (operation, caller, requestId). A retry with
the same key and the same parameters returns the resource the first request made; the same key with different
parameters is a ConflictException; two concurrent first attempts race on the key's primary key and the loser
returns the winner's resource.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from omicsd.errors import ConflictError
from omicsd.store import Store, idempotency


def fingerprint(params: Mapping[str, Any]) -> str:
    """A digest of a request's parameters, ignoring its requestId."""

    def default(value: Any) -> Any:
        if isinstance(value, bytes):
            return "sha256:" + hashlib.sha256(value).hexdigest()
        if isinstance(value, datetime):
            return value.isoformat()
        return repr(value)

    body = {k: v for k, v in params.items() if k != "requestId"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=default).encode()).hexdigest()


def create_once(
    store: Store,
    operation: str,
    caller: str,
    request_id: str | None,
    params: Mapping[str, Any],
    create: Callable[[Connection], str],
) -> tuple[str, bool]:
    """Run ``create`` at most once per key; returns ``(resource_id, created_now)``.

    Raises:
        ConflictError: the key was used before with different parameters.
    """
    if not request_id:
        with store.write() as conn:
            return create(conn), True
    digest = fingerprint(params)
    for _ in range(3):
        try:  # one write transaction: looking the key up first in a read of its own costs every new request more
            with store.write() as conn:
                found = idempotency.find(conn, operation, caller, request_id)
                if found is not None:
                    return _replay(found, digest, request_id), False
                resource_id = create(conn)
                idempotency.claim(
                    conn,
                    operation,
                    caller,
                    request_id,
                    fingerprint=digest,
                    resource_id=resource_id,
                    now=datetime.now(UTC),
                )
                return resource_id, True
        except IntegrityError:
            continue  # a concurrent request claimed the key (or the new ID collided): look again
    raise ConflictError(f"A concurrent request with requestId {request_id} is in progress; retry it")


def _replay(found: idempotency.IdempotencyKey, digest: str, request_id: str) -> str:
    if found.fingerprint != digest:
        raise ConflictError(f"requestId {request_id} was already used for a request with different parameters")
    return found.resource_id
