"""Run groups: the stored record, the quota and the admission rules HealthOmics describes (§3.4).

Owns: :class:`RunGroupRecord`, :class:`QueuedRun` (the columns admission reads of a PENDING run), the pure
admission function :func:`admit` that orders PENDING runs into one queue per run group plus one for ungrouped
runs and picks which may start now, and :func:`full_groups` (the queues admission need not read at all).
Must not: touch storage or processes.

Admission: within a queue, higher ``priority`` first (or lower first, a setting: one API text calls 1 the
highest), ties by creation time; between queues, the queue whose head was created first goes next (global
FIFO fairness between queue heads). A group at ``maxRuns`` active runs blocks only its own queue. The machine's
own limit on concurrent runs bounds every queue together. ``maxCpus`` / ``maxGpus`` are enforced per task by the
executor (tasks wait PENDING); ``maxDuration`` by the scheduler's time-out check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Protocol, TypeVar

from omicsd.domain.runs import RunRecord

MAX_RUN_GROUPS = 1000


@dataclass(frozen=True)
class RunGroupRecord:
    """A run group as stored."""

    id: str
    creation_time: datetime
    name: str | None = None
    max_cpus: int | None = None
    max_gpus: int | None = None
    max_runs: int | None = None
    max_duration: int | None = None

    @property
    def label(self) -> str:
        """How messages name this group."""
        return f"Run group {self.id}"


class Queued(Protocol):
    """What admission needs to know of a PENDING run (a :class:`QueuedRun` or a whole record)."""

    @property
    def id(self) -> str:
        """The run ID (the last tie-breaker)."""

    @property
    def run_group_id(self) -> str | None:
        """Its run group: the queue it waits in."""

    @property
    def priority(self) -> int | None:
        """Its place in the queue (absent counts as 0)."""

    @property
    def creation_time(self) -> datetime:
        """When it was created (ties within a queue, and the order between queue heads)."""


Q = TypeVar("Q", bound=Queued)


@dataclass(frozen=True, slots=True)
class QueuedRun:
    """A PENDING run as admission sees it: its queue and its place in that queue."""

    id: str
    run_group_id: str | None
    priority: int | None
    creation_time: datetime


#: QueuedRun's fields in declaration order (the columns an admission query selects).
QUEUED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(QueuedRun))


def full_groups(groups: Mapping[str, RunGroupRecord], active_by_group: Mapping[str, int]) -> frozenset[str]:
    """Run groups at their ``maxRuns``: none of their PENDING runs can start now, so admission skips them."""
    return frozenset(
        gid for gid, g in groups.items() if g.max_runs is not None and active_by_group.get(gid, 0) >= g.max_runs
    )


def admit(
    pending: Sequence[Q],
    *,
    room: int,
    active_by_group: Mapping[str, int],
    groups: Mapping[str, RunGroupRecord],
    higher_first: bool = True,
) -> list[Q]:
    """The PENDING runs to start now, in start order.

    Args:
        pending: PENDING runs (any order).
        room: How many more runs the machine may have active.
        active_by_group: Active (STARTING, RUNNING, STOPPING) runs per run group.
        groups: The run groups, by ID (a run naming an unknown group is admitted as ungrouped).
        higher_first: Whether a larger ``priority`` goes first.
    """
    if room <= 0:
        return []
    sign = -1 if higher_first else 1
    queues: dict[str, list[Q]] = {}
    for run in pending:
        key = run.run_group_id if run.run_group_id in groups else ""
        queues.setdefault(key or "", []).append(run)
    for queue in queues.values():
        queue.sort(key=lambda r: (sign * (r.priority or 0), r.creation_time, r.id))
    used = dict(active_by_group)
    chosen: list[Q] = []
    heads = {key: 0 for key in queues}
    while len(chosen) < room and heads:
        key = min(heads, key=lambda k: (queues[k][heads[k]].creation_time, queues[k][heads[k]].id))
        limit = groups[key].max_runs if key else None
        if limit is not None and used.get(key, 0) >= limit:
            del heads[key]  # this group is full: its queue waits, the others go on
            continue
        chosen.append(queues[key][heads[key]])
        used[key] = used.get(key, 0) + 1
        heads[key] += 1
        if heads[key] >= len(queues[key]):
            del heads[key]
    return chosen


def timed_out(run: RunRecord, group: RunGroupRecord | None, now: datetime) -> bool:
    """Whether an active run has exceeded its group's ``maxDuration`` (minutes, counted from its start)."""
    if group is None or not group.max_duration:
        return False
    began = run.start_time or run.creation_time
    return (now - began).total_seconds() > group.max_duration * 60
