"""Run caches: CreateRunCache, GetRunCache, UpdateRunCache, DeleteRunCache, ListRunCaches.

Owns: the run-cache use cases. Cache entries themselves are written and read by the engine drivers under the
cache's location (see :class:`~omicsd.domain.run_caches.RunCacheRecord.entries_uri`).
Must not: read or write cache entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain.callers import Caller
from omicsd.domain.ids import Arns, new_id, new_uuid
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.run_caches import DEFAULT_BEHAVIOR, MAX_RUN_CACHES, RunCacheRecord
from omicsd.domain.tags import check_new
from omicsd.errors import ConflictError, NotFoundError, QuotaExceededError
from omicsd.services._idempotency import create_once
from omicsd.store import Store
from omicsd.store import run_caches as repo
from omicsd.store import tags as tag_store


@dataclass(frozen=True)
class RunCacheView:
    """A run cache with its ARN and tags."""

    record: RunCacheRecord
    arn: str
    tags: dict[str, str]


class RunCacheService:
    """Use cases of run caches."""

    def __init__(self, store: Store, *, arns: Arns) -> None:
        self.store = store
        self.arns = arns

    def create(self, caller: Caller, params: Mapping[str, Any]) -> RunCacheView:
        """CreateRunCache: ACTIVE at once (the location is checked when entries are written).

        Raises:
            QuotaExceededError: 1,000 run caches exist.
        """
        tags = check_new(params.get("tags") or {})

        def insert(conn: Connection) -> str:
            if repo.count(conn) >= MAX_RUN_CACHES:
                raise QuotaExceededError(f"An account can have at most {MAX_RUN_CACHES} run caches")
            cache_id = new_id()
            while repo.get(conn, cache_id) is not None:
                cache_id = new_id()
            record = RunCacheRecord(
                id=cache_id,
                uuid=new_uuid(),
                cache_s3_uri=params["cacheS3Location"],
                cache_behavior=params.get("cacheBehavior") or DEFAULT_BEHAVIOR,
                status="ACTIVE",
                creation_time=datetime.now(UTC),
                name=params.get("name"),
                description=params.get("description"),
                cache_bucket_owner_id=params.get("cacheBucketOwnerId") or self.arns.account_id,
            )
            repo.insert(conn, record)
            tag_store.replace(conn, self.arns.of("runCache", cache_id), tags)
            return cache_id

        cache_id, _ = create_once(self.store, "CreateRunCache", caller.key, params.get("requestId"), params, insert)
        return self.get(cache_id)

    def get(self, cache_id: str) -> RunCacheView:
        """GetRunCache.

        Raises:
            NotFoundError: no such cache.
        """
        with self.store.read() as conn:
            record = self.lookup(conn, cache_id)
            arn = self.arns.of("runCache", cache_id)
            return RunCacheView(record, arn, tag_store.get(conn, arn))

    def lookup(self, conn: Connection, cache_id: str) -> RunCacheRecord:
        """The cache, inside a caller's transaction (StartRun's reference check).

        Raises:
            NotFoundError: no such cache.
        """
        record = repo.get(conn, cache_id)
        if record is None or record.status != "ACTIVE":
            raise NotFoundError(f"Run cache {cache_id} not found")
        return record

    def update(self, cache_id: str, params: Mapping[str, Any]) -> None:
        """UpdateRunCache: name, description and default behavior."""
        columns = {"name": "name", "description": "description", "cacheBehavior": "cache_behavior"}
        values = {column: params[member] for member, column in columns.items() if params.get(member) is not None}
        with self.store.write() as conn:
            self.lookup(conn, cache_id)
            if values:
                repo.update(conn, cache_id, values)

    def delete(self, cache_id: str) -> None:
        """DeleteRunCache: metadata only; entries stay in the bucket.

        Raises:
            NotFoundError: no such cache.
            ConflictError: an unfinished run uses it.
        """
        with self.store.write() as conn:
            self.lookup(conn, cache_id)
            if repo.in_use(conn, cache_id):
                raise ConflictError(f"Run cache {cache_id} is used by a run that has not finished")
            repo.delete(conn, cache_id)
            tag_store.delete_all(conn, self.arns.of("runCache", cache_id))

    def list(self, *, token: str | None = None, max_results: int | None = None) -> Page[RunCacheView]:
        """ListRunCaches, newest first."""
        after = decode_token(token, {})
        limit = page_size(max_results)
        if after is not None:
            after = [datetime.fromisoformat(after[0]), after[1]]
        with self.store.read() as conn:
            records = repo.list_page(conn, after=after, limit=limit + 1)
        more = len(records) > limit
        records = records[:limit]
        token_out = encode_token([records[-1].creation_time.isoformat(), records[-1].id], {}) if more else None
        return Page([RunCacheView(r, self.arns.of("runCache", r.id), {}) for r in records], token_out)
