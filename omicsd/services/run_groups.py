"""Run groups: CreateRunGroup, GetRunGroup, UpdateRunGroup, DeleteRunGroup, ListRunGroups.

Owns: the run-group use cases. Admission against group limits is the scheduler's (see
:mod:`omicsd.domain.run_groups`); UpdateRunGroup changes apply to the scheduler's next decisions.
Must not: start or stop runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain.callers import Caller
from omicsd.domain.ids import Arns, new_id
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.run_groups import MAX_RUN_GROUPS, RunGroupRecord
from omicsd.domain.tags import check_new
from omicsd.errors import ConflictError, NotFoundError, QuotaExceededError
from omicsd.services._idempotency import create_once
from omicsd.store import Store
from omicsd.store import run_groups as repo
from omicsd.store import tags as tag_store

_LIMITS = {"maxCpus": "max_cpus", "maxGpus": "max_gpus", "maxRuns": "max_runs", "maxDuration": "max_duration"}


@dataclass(frozen=True)
class RunGroupView:
    """A run group with its ARN and tags."""

    record: RunGroupRecord
    arn: str
    tags: dict[str, str]


class RunGroupService:
    """Use cases of run groups."""

    def __init__(self, store: Store, *, arns: Arns) -> None:
        self.store = store
        self.arns = arns
        self.changed: Callable[[], None] = lambda: None
        """Called after a create, update or delete (the scheduler refreshes its limits)."""

    def create(self, caller: Caller, params: Mapping[str, Any]) -> RunGroupView:
        """CreateRunGroup.

        Raises:
            QuotaExceededError: 1,000 run groups exist.
        """
        tags = check_new(params.get("tags") or {})

        def insert(conn: Connection) -> str:
            if repo.count(conn) >= MAX_RUN_GROUPS:
                raise QuotaExceededError(f"An account can have at most {MAX_RUN_GROUPS} run groups")
            group_id = new_id()
            while repo.get(conn, group_id) is not None:
                group_id = new_id()
            values = {column: params.get(member) for member, column in _LIMITS.items()}
            repo.insert(
                conn, RunGroupRecord(id=group_id, creation_time=datetime.now(UTC), name=params.get("name"), **values)
            )
            tag_store.replace(conn, self.arns.of("runGroup", group_id), tags)
            return group_id

        group_id, created = create_once(
            self.store, "CreateRunGroup", caller.key, params.get("requestId"), params, insert
        )
        if created:
            self.changed()
        return self.get(group_id)

    def get(self, group_id: str) -> RunGroupView:
        """GetRunGroup.

        Raises:
            NotFoundError: no such group.
        """
        with self.store.read() as conn:
            record = self.lookup(conn, group_id)
            arn = self.arns.of("runGroup", group_id)
            return RunGroupView(record, arn, tag_store.get(conn, arn))

    def lookup(self, conn: Connection, group_id: str) -> RunGroupRecord:
        """The group, inside a caller's transaction (StartRun's reference check).

        Raises:
            NotFoundError: no such group.
        """
        record = repo.get(conn, group_id)
        if record is None:
            raise NotFoundError(f"Run group {group_id} not found")
        return record

    def update(self, group_id: str, params: Mapping[str, Any]) -> None:
        """UpdateRunGroup: name and any limit; omitted members keep their value."""
        values = {column: params[member] for member, column in _LIMITS.items() if params.get(member) is not None}
        if params.get("name") is not None:
            values["name"] = params["name"]
        with self.store.write() as conn:
            self.lookup(conn, group_id)
            if values:
                repo.update(conn, group_id, values)
        self.changed()

    def delete(self, group_id: str) -> None:
        """DeleteRunGroup.

        Raises:
            NotFoundError: no such group.
            ConflictError: a run of the group has not finished.
        """
        with self.store.write() as conn:
            self.lookup(conn, group_id)
            if repo.has_unfinished_runs(conn, group_id):
                raise ConflictError(f"Run group {group_id} has runs that have not finished")
            repo.delete(conn, group_id)
            tag_store.delete_all(conn, self.arns.of("runGroup", group_id))
        self.changed()

    def list(
        self, *, name: str | None = None, token: str | None = None, max_results: int | None = None
    ) -> Page[RunGroupView]:
        """ListRunGroups, newest first."""
        filters = {"name": name}
        after = decode_token(token, filters)
        limit = page_size(max_results)
        if after is not None:
            after = [datetime.fromisoformat(after[0]), after[1]]
        with self.store.read() as conn:
            records = repo.list_page(conn, name=name, after=after, limit=limit + 1)
        more = len(records) > limit
        records = records[:limit]
        token_out = encode_token([records[-1].creation_time.isoformat(), records[-1].id], filters) if more else None
        return Page([RunGroupView(r, self.arns.of("runGroup", r.id), {}) for r in records], token_out)
