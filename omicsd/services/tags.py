"""TagResource, UntagResource and ListTagsForResource for every taggable resource ARN.

Owns: resolving an ARN to a live resource and applying the tag rules of :mod:`omicsd.domain.tags`.
Must not: know each resource's table: every resource family registers how to tell whether an ARN exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sqlalchemy.engine import Connection

from omicsd.domain import tags as rules
from omicsd.domain.ids import ArnRef, Arns
from omicsd.errors import NotFoundError
from omicsd.store import Store
from omicsd.store import tags as repo

Exists = Callable[[Connection, ArnRef], bool]


class TagService:
    """Tags keyed by resource ARN."""

    def __init__(self, store: Store, *, arns: Arns) -> None:
        self.store = store
        self.arns = arns
        self._exists: dict[str, Exists] = {}

    def register(self, kind: str, exists: Exists) -> None:
        """Declare how to tell whether a resource of ``kind`` (an ARN's resource type) exists."""
        self._exists[kind] = exists

    def list(self, arn: str) -> dict[str, str]:
        """ListTagsForResource."""
        with self.store.read() as conn:
            self._check(conn, arn)
            return repo.get(conn, arn)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        """TagResource: merge, overwriting existing keys."""
        with self.store.write() as conn:
            self._check(conn, arn)
            repo.replace(conn, arn, rules.merge(repo.get(conn, arn), tags))

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        """UntagResource: remove keys; absent keys are ignored."""
        with self.store.write() as conn:
            self._check(conn, arn)
            repo.replace(conn, arn, rules.remove(repo.get(conn, arn), keys))

    def _check(self, conn: Connection, arn: str) -> None:
        ref = self.arns.parse(arn)
        exists = self._exists.get(ref.kind)
        if exists is None or not exists(conn, ref):
            raise NotFoundError(f"Resource {arn} not found")
