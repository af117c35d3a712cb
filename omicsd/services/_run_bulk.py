"""Status changes of many runs at once: the set-based twin of ``RunService.transition_in``, and CancelRun and
DeleteRun for many runs built on it (CancelRunBatch and DeleteRunBatch use them).

Owns: :class:`RunMoves` (what one bulk transition did to each run), :func:`stamped` and :func:`status_line` (the
values and the run-log line every transition writes, shared with the single path), :func:`transition_many_in`
(each run decided by the transition tables in memory; the accepted ones written with one compare-and-set
statement per current status and 500 runs), :func:`cancel_many_in` (CancelRun's rules: PENDING -> CANCELLED,
started runs -> STOPPING so the scheduler signals their drivers, runs already STOPPING left alone, runs that
moved on meanwhile read again and decided again, three rounds at most) and :func:`delete_many_in` (finished runs
-> DELETED, their tasks and tags dropped).
Must not: open transactions (callers pass theirs, so a chunk of runs and its bookkeeping commit together) or write
the run logs (``RunService.log_moves`` does once the caller committed, so no line is written for a change that
was rolled back, and no file is written while the database is locked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain import runs as rules
from omicsd.domain.runs import RunState
from omicsd.domain.states import RUN_TERMINAL, RUN_TRANSITIONS, RunStatus
from omicsd.domain.transitions import decide
from omicsd.errors import ConflictError, NotFoundError, OmicsdError
from omicsd.store import runs as repo
from omicsd.store import tags as tag_store
from omicsd.store import tasks as task_store

CANCEL_ROUNDS = 3
"""How often a run that keeps changing status under a bulk cancel is read again (as ``CancelRun`` retries)."""


@dataclass
class RunMoves:
    """What :func:`transition_many_in` did to each run it was given."""

    target: RunStatus
    values: dict[str, Any] = field(default_factory=dict)
    """The values written with the status (its ``status_message`` goes into the run-log line)."""
    moved: list[RunState] = field(default_factory=list)
    """Runs now in ``target`` (as they were before the change)."""
    stale: list[RunState] = field(default_factory=list)
    """Runs that had moved on before the write: read them again and decide again."""
    unchanged: list[RunState] = field(default_factory=list)
    """Runs already in ``target`` (nothing written, not an error)."""
    rejected: dict[str, ConflictError] = field(default_factory=dict)
    """Runs whose change the transition tables forbid, by ID, with the reason."""

    def lines(self) -> list[tuple[RunState, str]]:
        """The run-log line of each moved run."""
        return [(run, status_line(run.id, self.target, self.values)) for run in self.moved]


def stamped(values: dict[str, Any], target: RunStatus, *, started: bool) -> dict[str, Any]:
    """``values`` plus what every transition to ``target`` writes: stop time, start time, a clamped failure.

    Args:
        values: The caller's column values (changed in place and returned).
        target: The new status.
        started: Whether the run already has a start time.
    """
    now = datetime.now(UTC)
    if target in RUN_TERMINAL and "stop_time" not in values:
        values["stop_time"] = now
    if target == RunStatus.RUNNING and not started and "start_time" not in values:
        values["start_time"] = now
    if values.get("failure_reason"):
        values["failure_reason"], values["status_message"] = rules.failure_message(
            values["failure_reason"], values.get("status_message") or ""
        )
    return values


def status_line(run_id: str, target: RunStatus, values: Mapping[str, Any]) -> str:
    """The run-log line of a status change."""
    line = f"Run {run_id} status {target.value}"
    if values.get("status_message"):
        line += f": {values['status_message']}"
    return line


def transition_many_in(
    conn: Connection, runs: Sequence[RunState], target: RunStatus, values: Mapping[str, Any]
) -> RunMoves:
    """Move many runs to ``target`` inside the caller's transaction, each as ``RunService.transition_in`` would."""
    moves = RunMoves(target)
    batches: dict[tuple[RunStatus, bool], list[RunState]] = {}
    for run in runs:
        decision = decide(RUN_TRANSITIONS, run.label, run.status, target)
        if decision.noop:
            moves.unchanged.append(run)
        elif not decision.accepted:
            moves.rejected[run.id] = ConflictError(decision.reason)
        else:
            batches.setdefault((run.status, run.start_time is not None), []).append(run)
    for (current, started), batch in batches.items():
        written = stamped(dict(values), target, started=started)
        moves.values = written
        done = repo.compare_and_set_many(
            conn, [r.id for r in batch], current=current, values={**written, "status": target.value}
        )
        for run in batch:
            (moves.moved if run.id in done else moves.stale).append(run)
    if not batches:
        moves.values = dict(values)
    return moves


Cancelled = tuple[list[RunMoves], dict[str, OmicsdError]]
"""What a bulk cancel did: the moves made, and the runs that could not be cancelled (by ID, with the error)."""


def cancel_many_in(
    conn: Connection, runs: Sequence[RunState], *, pending_message: str, started_message: str
) -> Cancelled:
    """CancelRun for many unfinished runs; returns the moves made and the runs that could not be cancelled.

    A run that moved on between its read and the write is read again and decided again (at most
    :data:`CANCEL_ROUNDS` times), as ``CancelRun`` does; one that has finished meanwhile is a conflict.
    """
    moves: list[RunMoves] = []
    errors: dict[str, OmicsdError] = {}
    todo = list(runs)
    for _ in range(CANCEL_ROUNDS):
        pending: list[RunState] = []
        started: list[RunState] = []
        for run in todo:
            if run.status in RUN_TERMINAL:
                errors[run.id] = ConflictError(f"Run {run.id} is {run.status.value} and cannot be cancelled")
            elif run.status == RunStatus.PENDING:
                pending.append(run)
            elif run.status != RunStatus.STOPPING:  # STOPPING: already being cancelled
                started.append(run)
        stale: list[RunState] = []
        for batch, target, message in (
            (pending, RunStatus.CANCELLED, pending_message),
            (started, RunStatus.STOPPING, started_message),
        ):
            if batch:
                moved = transition_many_in(conn, batch, target, {"status_message": message})
                moves.append(moved)
                errors.update(moved.rejected)
                stale += moved.stale
        if not stale:
            return moves, errors
        todo = _read_again(conn, stale, errors)
    for run in todo:
        errors[run.id] = ConflictError("The run kept changing status; cancel it again")
    return moves, errors


def _read_again(conn: Connection, stale: Sequence[RunState], errors: dict[str, OmicsdError]) -> list[RunState]:
    found = repo.states(conn, [run.id for run in stale])
    again = []
    for run in stale:
        now = found.get(run.id)
        if now is None or now.uuid != run.uuid or now.status == RunStatus.DELETED:
            errors[run.id] = NotFoundError("The run no longer exists")
        else:
            again.append(now)
    return again


def delete_many_in(conn: Connection, runs: Sequence[RunState], arn_of: Callable[[str], str]) -> RunMoves:
    """DeleteRun for many finished runs: DELETED tombstones, their tasks and tags dropped.

    Runs that moved on before the write were deleted by someone else, who dropped their tasks and tags too.
    """
    moves = transition_many_in(conn, runs, RunStatus.DELETED, {})
    gone = [run.id for run in moves.moved]
    task_store.delete_for_runs(conn, gone)
    tag_store.delete_many(conn, [arn_of(run_id) for run_id in gone])
    return moves
