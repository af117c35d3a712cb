"""Runs: StartRun (new runs and reruns), GetRun, ListRuns, CancelRun, DeleteRun and retention.

Owns: the run use cases and :meth:`RunService.transition` (one run) and :meth:`RunService.transition_many_in`
(many runs, see :mod:`omicsd.services._run_bulk`), the only code that changes a run's status.
Must not: start or signal engine drivers (the scheduler does, and wakes up through :attr:`RunService.wake`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain import runs as rules
from omicsd.domain.callers import Caller
from omicsd.domain.ids import Arns, new_id, new_uuid
from omicsd.domain.pagination import Page, decode_token, encode_token, page_size
from omicsd.domain.runs import RunRecord, RunState, RunSummary
from omicsd.domain.states import RUN_TERMINAL, RUN_TRANSITIONS, RunStatus
from omicsd.domain.tags import check_new
from omicsd.domain.transitions import decide
from omicsd.domain.workflows import WorkflowRecord
from omicsd.errors import ConflictError, NotFoundError, QuotaExceededError
from omicsd.logs import streams
from omicsd.logs.files import LogWriter
from omicsd.services import _run_bulk as bulk
from omicsd.services import _run_requests as requests
from omicsd.services._idempotency import create_once
from omicsd.services._run_requests import RunPolicy
from omicsd.store import Store
from omicsd.store import runs as repo
from omicsd.store import tags as tag_store
from omicsd.store import tasks as task_store

logger = logging.getLogger(__name__)

HEADROOM_SECONDS = 1.0
"""How long a count of the stored runs may stand in for the next ones (see :class:`_Headroom`)."""


@dataclass(frozen=True)
class RunView:
    """A run with its ARN and tags."""

    record: RunRecord
    arn: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class RunListItem:
    """A ListRuns item: the run's summary columns and its ARN."""

    record: RunSummary
    arn: str


class RunService:
    """Use cases of runs."""

    def __init__(self, store: Store, *, arns: Arns, logs: LogWriter, policy: RunPolicy) -> None:
        self.store = store
        self.arns = arns
        self.logs = logs
        self.policy = policy
        self._headroom = _Headroom()
        self.wake: Callable[[], None] = lambda: None
        """Called after a change the scheduler should act on (a cancel, a deletion, ...)."""
        self.queued: Callable[[str | None], None] = lambda group_id: self.wake()
        """Called after new PENDING runs were stored, with their run group (the scheduler admits them)."""
        self.finished: Callable[[RunRecord], None] = lambda record: None
        """Called once a run reached a terminal state (the run manifest is written from here)."""
        self.references: dict[str, Callable[[Connection, str], Any]] = {
            "runGroupId": _missing("Run group"),
            "cacheId": _missing("Run cache"),
            "configurationName": _missing("Configuration"),
        }
        """StartRun members naming other resources, with a lookup that raises NotFoundError when absent.
        Each resource family replaces its entry when it is wired (see :func:`omicsd.app.build_services`)."""

    # -- StartRun -----------------------------------------------------------------------------------------

    def start(self, caller: Caller, params: Mapping[str, Any]) -> RunView:
        """StartRun: validate, persist PENDING, wake the scheduler.

        Raises:
            ValidationError: bad member combinations, parameters, locations.
            NotFoundError: the workflow, version, source run, run group, cache or configuration is missing.
            ConflictError: the workflow is not ACTIVE; a reused requestId with other parameters.
            QuotaExceededError: the stored-runs quota is reached and no REMOVE run can be evicted.
        """
        self.check_request(params)
        tags = check_new(params.get("tags") or {})
        uuid = new_uuid()
        made: list[RunRecord] = []

        def insert(conn: Connection) -> str:
            merged = requests.merge_rerun(conn, params)
            workflow = self.resolve_workflow(conn, merged)
            found = self.check_references(conn, merged)
            cache = found.get("cacheId")
            if cache is not None and not merged.get("cacheBehavior"):
                merged["cacheBehavior"] = getattr(cache, "cache_behavior", None)
            run_id = self.new_run_id(conn)
            record = self.build_record(caller, run_id, uuid, merged, workflow)
            self.make_room(conn)
            repo.insert(conn, record)
            if tags:  # a new ID has no tags yet: nothing to replace
                tag_store.replace(conn, self.arns.of("run", run_id), tags)
            made[:] = [record]
            return run_id

        run_id, created = create_once(self.store, "StartRun", caller.key, params.get("requestId"), params, insert)
        if not created:
            return self.get(run_id)
        # Answer with what this request stored (PENDING), even if the scheduler claimed the run meanwhile, as
        # HealthOmics does; the record is the row as inserted, so it needs no second read.
        record = made[0]
        self.log(record, f"Run {run_id} created (workflow {record.workflow_id}); status PENDING")
        self.queued(record.run_group_id)
        return RunView(record, self.arns.of("run", run_id), dict(tags))

    # -- read ---------------------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunView:
        """GetRun.

        Raises:
            NotFoundError: no live run with this ID.
        """
        arn = self.arns.of("run", run_id)
        found = repo.read_with_tags(self.store, run_id, arn)
        if found is None:
            raise NotFoundError(f"Run {run_id} not found")
        return RunView(found[0], arn, found[1])

    def list(
        self,
        *,
        name: str | None = None,
        run_group_id: str | None = None,
        batch_id: str | None = None,
        status: str | None = None,
        token: str | None = None,
        max_results: int | None = None,
    ) -> Page[RunListItem]:
        """ListRuns, newest first; every filter given must match."""
        filters = {"name": name, "group": run_group_id, "batch": batch_id, "status": status}
        after = decode_token(token, filters)
        limit = page_size(max_results)
        if status == RunStatus.DELETED.value:
            return Page([], None)
        if after is not None:
            after = [datetime.fromisoformat(after[0]), after[1]]
        with self.store.read() as conn:
            records = repo.list_summaries(
                conn,
                name=name,
                run_group_id=run_group_id,
                batch_id=batch_id,
                status=status,
                after=after,
                limit=limit + 1,
            )
        more = len(records) > limit
        records = records[:limit]
        next_token = None
        if more:
            last = records[-1]
            next_token = encode_token([last.creation_time.isoformat(), last.id], filters)
        arn = self.arns.of
        return Page([RunListItem(r, arn("run", r.id)) for r in records], next_token)

    # -- CancelRun / DeleteRun ----------------------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        """CancelRun: a PENDING run is CANCELLED at once; a started one goes STOPPING until its driver stops.

        Raises:
            NotFoundError: no such run.
            ConflictError: the run already finished.
        """
        record = self.get(run_id).record
        if record.status in RUN_TERMINAL:
            raise ConflictError(f"Run {run_id} is {record.status.value} and cannot be cancelled")
        if record.status == RunStatus.PENDING:
            if self.transition(record, RunStatus.CANCELLED, status_message="Cancelled before it started"):
                self.finished(self.get(run_id).record)
                self.wake()
                return
            record = self.get(run_id).record
        if record.status != RunStatus.STOPPING:
            self.transition(record, RunStatus.STOPPING, status_message="Cancellation requested")
        self.wake()

    def delete(self, run_id: str) -> None:
        """DeleteRun: only finished runs; metadata goes, outputs and logs stay.

        Raises:
            NotFoundError: no such run.
            ConflictError: the run has not finished.
        """
        with self.store.write() as conn:
            record = repo.get(conn, run_id)
            if record is None:
                raise NotFoundError(f"Run {run_id} not found")
            if record.status not in RUN_TERMINAL:
                raise ConflictError(f"Run {run_id} is {record.status.value}; only finished runs can be deleted")
            self._delete(conn, record)

    # -- the transition choke point -----------------------------------------------------------------------

    def transition(self, record: RunRecord, target: RunStatus, **values: Any) -> bool:
        """Move a run to ``target`` with compare-and-set; ``False`` when it had already moved on.

        Raises:
            ConflictError: the transition tables forbid the change.
        """
        with self.store.write() as conn:
            return self.transition_in(conn, record, target, **values)

    def transition_in(self, conn: Connection, record: RunRecord, target: RunStatus, **values: Any) -> bool:
        """:meth:`transition` inside a caller's transaction."""
        decision = decide(RUN_TRANSITIONS, record.label, record.status, target)
        if decision.noop:
            return False
        if not decision.accepted:
            raise ConflictError(decision.reason)
        values = bulk.stamped(values, target, started=record.start_time is not None)
        done = repo.compare_and_set(conn, record.id, current=record.status, values={**values, "status": target.value})
        if done:
            self.log(record, bulk.status_line(record.id, target, values))
        return done

    def transition_many_in(
        self, conn: Connection, runs: Sequence[RunState], target: RunStatus, **values: Any
    ) -> bulk.RunMoves:
        """:meth:`transition_in` for many runs: each decided in memory, written a few hundred per statement.

        Nothing is raised for runs the tables forbid to move (they are in ``rejected``). Pass the result to
        :meth:`log_moves` once the transaction committed: that writes the runs' log lines.
        """
        return bulk.transition_many_in(conn, runs, target, values)

    def cancel_many_in(
        self, conn: Connection, runs: Sequence[RunState], *, pending_message: str, started_message: str
    ) -> bulk.Cancelled:
        """CancelRun for many unfinished runs in the caller's transaction (see :func:`~._run_bulk.cancel_many_in`).

        Returns:
            The moves (for :meth:`log_moves` after the commit) and the runs that could not be cancelled, by ID.
        """
        return bulk.cancel_many_in(conn, runs, pending_message=pending_message, started_message=started_message)

    def delete_many_in(self, conn: Connection, runs: Sequence[RunState]) -> bulk.RunMoves:
        """DeleteRun for many finished runs in the caller's transaction (log the result with :meth:`log_moves`)."""
        return bulk.delete_many_in(conn, runs, lambda run_id: self.arns.of("run", run_id))

    def log_moves(self, moves: Iterable[bulk.RunMoves]) -> None:
        """Write the run-log lines of committed bulk transitions (one line per moved run)."""
        for move in moves:
            for run, line in move.lines():
                self.log_many(run, [line])

    def log(self, record: RunRecord | RunState, message: str) -> None:
        """Append to the run's log stream ``run/<id>`` (nothing for ``logLevel=OFF``)."""
        self.log_many(record, [message])

    def log_many(self, record: RunRecord | RunState, messages: Sequence[str]) -> None:
        """Append several lines to ``run/<id>`` with one write (nothing for ``logLevel=OFF``)."""
        if not messages or record.log_level == "OFF":
            return
        try:
            self.logs.append(streams.LOG_GROUP, streams.run_stream(record.id), messages)
        except OSError:
            logger.warning("run.log_failed id=%s", record.id, exc_info=True)

    # -- StartRun building blocks (also used by run batches) ---------------------------------------------

    def check_request(self, params: Mapping[str, Any]) -> None:
        """The checks that need nothing but the request.

        Raises:
            ValidationError: bad member combinations, locations or session policy.
        """
        rules.check_choice_members(params)
        rules.check_locations(params["outputUri"], params["roleArn"])
        rules.check_session_policy(params.get("sessionPolicy"))

    def resolve_workflow(self, conn: Connection, params: Mapping[str, Any]) -> WorkflowRecord:
        """The ACTIVE workflow (or version) a request runs, its parameters checked against the template.

        Raises:
            NotFoundError: no such workflow or version here.
            ConflictError: not ACTIVE.
            ValidationError: parameters do not fit the template.
        """
        return requests.resolve_workflow(conn, params, self.arns.account_id)

    def check_references(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any]:
        """Run group, run cache and configuration named by a request must exist (and be usable).

        Returns:
            The looked-up resources by StartRun member name.

        Raises:
            NotFoundError: one of them does not exist.
        """
        found: dict[str, Any] = {}
        for member, lookup in self.references.items():
            value = params.get(member)
            if value:
                found[member] = lookup(conn, str(value))
        return found

    def new_run_id(self, conn: Connection) -> str:
        """An unused run ID (IDs of deleted runs may come back, as on HealthOmics)."""
        while True:
            run_id = new_id()
            if not repo.id_taken(conn, run_id):
                return run_id

    # -- helpers in life-cycle order ----------------------------------------------------------------------

    def build_record(
        self, caller: Caller, run_id: str, uuid: str, params: Mapping[str, Any], workflow: WorkflowRecord
    ) -> RunRecord:
        """The PENDING record of a validated request (see :func:`~omicsd.services._run_requests.build_record`)."""
        return requests.build_record(caller, run_id, uuid, params, workflow, self.policy)

    def make_room(self, conn: Connection, adding: int = 1) -> None:
        """Evict finished REMOVE runs, oldest first, so ``adding`` more runs fit the stored-runs quota.

        Raises:
            QuotaExceededError: not enough runs can be evicted.
        """
        if self._headroom.take(adding):
            return  # surely fits: no need to count every stored run
        stored = repo.count_stored(conn)
        excess = stored - self.policy.max_stored_runs + adding
        if excess <= 0:
            self._headroom.reset(-excess)
            return
        victims = repo.oldest_removable(conn, excess)
        if len(victims) < excess:
            raise QuotaExceededError(
                f"The account already stores {stored} runs (the limit is {self.policy.max_stored_runs}) and "
                "none of them can be removed: only finished runs with retentionMode REMOVE are evicted"
            )
        for victim in victims:
            logger.info("run.evicted id=%s", victim.id)
            self._delete(conn, victim)

    def _delete(self, conn: Connection, record: RunRecord) -> None:
        self.transition_in(conn, record, RunStatus.DELETED)
        task_store.delete_for_run(conn, record.id)
        tag_store.delete_all(conn, self.arns.of("run", record.id))


class _Headroom:
    """How many more runs surely fit the stored-runs quota, so that StartRun need not count every stored run.

    It is the room the last exact count left, minus the runs admitted since (deletions are not added back, so it
    only errs on the safe side), and it expires after :data:`HEADROOM_SECONDS`, which bounds how long rows written
    by anything else than this process go unseen. Near the quota every call counts exactly.
    """

    def __init__(self) -> None:
        self._left = 0
        self._until = 0.0
        self._lock = threading.Lock()

    def take(self, wanted: int) -> bool:
        """Use ``wanted`` runs of the room; ``False`` when it is unknown or too small (count then)."""
        with self._lock:
            if self._left < wanted or time.monotonic() >= self._until:
                return False
            self._left -= wanted
            return True

    def reset(self, left: int) -> None:
        """An exact count left room for ``left`` more runs."""
        with self._lock:
            self._left, self._until = left, time.monotonic() + HEADROOM_SECONDS


def _missing(kind: str) -> Callable[[Connection, str], Any]:
    def lookup(conn: Connection, value: str) -> Any:
        raise NotFoundError(f"{kind} {value} not found")

    return lookup
