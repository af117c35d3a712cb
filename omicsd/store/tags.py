"""Tag persistence, keyed by resource ARN.

Owns: reading and replacing the tag set of an ARN. Must not: validate tags (``omicsd.domain.tags`` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omicsd.store.tables import tags


def get(conn: Connection, arn: str) -> dict[str, str]:
    """The tags of ``arn`` (empty when it has none)."""
    rows = conn.execute(sa.select(tags.c.key, tags.c.value).where(tags.c.resource_arn == arn))
    return {key: value for key, value in rows}


def get_many(conn: Connection, arns: Iterable[str]) -> dict[str, dict[str, str]]:
    """Tags of several ARNs at once."""
    wanted = list(arns)
    out: dict[str, dict[str, str]] = {arn: {} for arn in wanted}
    if wanted:
        rows = conn.execute(sa.select(tags).where(tags.c.resource_arn.in_(wanted)))
        for arn, key, value in rows:
            out[arn][key] = value
    return out


def replace(conn: Connection, arn: str, new: Mapping[str, str]) -> None:
    """Make ``new`` the complete tag set of ``arn``."""
    conn.execute(sa.delete(tags).where(tags.c.resource_arn == arn))
    if new:
        conn.execute(sa.insert(tags), [{"resource_arn": arn, "key": k, "value": v} for k, v in new.items()])


def delete_all(conn: Connection, arn: str) -> None:
    """Forget every tag of a deleted resource."""
    conn.execute(sa.delete(tags).where(tags.c.resource_arn == arn))


def delete_many(conn: Connection, arns: Sequence[str]) -> None:
    """Forget every tag of many deleted resources (500 ARNs per statement)."""
    for start in range(0, len(arns), 500):
        conn.execute(sa.delete(tags).where(tags.c.resource_arn.in_(list(arns[start : start + 500]))))
