"""The run-group limits the scheduler enforces besides ``maxRuns``: CPU and GPU pools, and ``maxDuration``.

Owns: :func:`write_pool_limits` (each group's ``maxCpus`` / ``maxGpus`` become a pool limit in the capacity
ledger, which every driver's executor honours: tasks beyond it wait PENDING) and :func:`time_out_runs` (active
runs past their group's ``maxDuration`` are stopped, to end FAILED with ``RUN_TIMED_OUT``).
Must not: admit runs (the loop does, as :mod:`omicsd.domain.run_groups` decides) or signal drivers (the loop
stops a STOPPING run's driver on its next pass).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from omicsd.domain.run_groups import timed_out
from omicsd.domain.states import RUN_ACTIVE, RunStatus
from omicsd.engines._cache import mark_timed_out
from omicsd.errors import ConflictError
from omicsd.executors.capacity import CapacityLedger, Resources
from omicsd.services import Services
from omicsd.store import run_groups as group_store
from omicsd.store import runs as run_store

logger = logging.getLogger(__name__)


def write_pool_limits(services: Services, capacity_dir: Path) -> None:
    """Hand the run groups' CPU and GPU limits to the executors (through the ledger's pool limits file)."""
    with services.runs.store.read() as conn:
        groups = group_store.all_groups(conn)
    limits = {
        gid: Resources(cpus=g.max_cpus or 0, gpus=g.max_gpus or 0)
        for gid, g in groups.items()
        if g.max_cpus or g.max_gpus
    }
    CapacityLedger(capacity_dir).write_pool_limits(limits)


def time_out_runs(services: Services, runs_dir: Path) -> int:
    """Stop the runs that exceeded their run group's ``maxDuration``; returns how many were stopped."""
    with services.runs.store.read() as conn:
        groups = {gid: g for gid, g in group_store.all_groups(conn).items() if g.max_duration}
        if not groups:
            return 0
        active = run_store.in_status(conn, [s for s in RUN_ACTIVE if s != RunStatus.PENDING])
    now = datetime.now(UTC)
    stopped = 0
    for record in active:
        group = groups.get(record.run_group_id or "")
        if record.failure_reason == "RUN_TIMED_OUT" or not timed_out(record, group, now):
            continue
        assert group is not None
        message = f"The run exceeded the maximum duration of run group {group.id} ({group.max_duration} minutes)"
        try:
            services.runs.transition(record, RunStatus.STOPPING, failure_reason="RUN_TIMED_OUT", status_message=message)
        except ConflictError:
            continue
        with contextlib.suppress(OSError):
            mark_timed_out(runs_dir / record.uuid)  # the driver only sees SIGTERM: tell it why
        logger.info("run.timed_out id=%s group=%s", record.id, group.id)
        stopped += 1
    return stopped
