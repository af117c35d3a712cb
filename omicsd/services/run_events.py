"""Apply an engine driver's journal events to runs and tasks, exactly once.

Owns: :class:`RunEventApplier`. The events of one journal read and the run's new journal offset are written in
one transaction, so a crash between reading and applying replays the same events on restart, and a replay
after a successful write never happens (the offset moved with the changes). Every status change goes through
the run and task ``transition()`` functions.
Must not: read journals or manage processes (the scheduler's supervisor does).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain.ids import new_uuid
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RUN_TERMINAL, TASK_TERMINAL, RunStatus, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.engines import events as ev
from omicsd.services.runs import RunService
from omicsd.services.tasks import TaskService
from omicsd.store import runs as run_store
from omicsd.store import tasks as task_store

logger = logging.getLogger(__name__)

GIB = 1024**3


class RunEventApplier:
    """Turns journal events into run and task changes."""

    def __init__(self, runs: RunService, tasks: TaskService) -> None:
        self.runs = runs
        self.tasks = tasks

    def apply(self, run_id: str, events: Sequence[ev.Event], new_offset: int) -> RunRecord | None:
        """Apply ``events`` and store ``new_offset``; returns the run afterwards (``None`` if it is gone)."""
        messages: list[str] = []
        with self.runs.store.write() as conn:
            for event in events:
                record = run_store.get(conn, run_id)
                if record is None:
                    return None
                message = self._apply(conn, record, event)
                if message:
                    messages.append(message)
            run_store.update(conn, run_id, {"journal_offset": new_offset})
            final = run_store.get(conn, run_id)
        if final is not None:
            for message in messages:
                self.runs.log(final, message)
            if final.status in RUN_TERMINAL:
                self.runs.finished(final)
        return final

    def fail(self, record: RunRecord, reason: str, message: str) -> None:
        """End a run whose driver is gone without saying how it ended."""
        with self.runs.store.write() as conn:
            current = run_store.get(conn, record.id)
            if current is None or current.status in RUN_TERMINAL:
                return
            self._finish(conn, current, "FAILED", time_=datetime.now(UTC), reason=reason, message=message)
            final = run_store.get(conn, record.id)
        if final is not None:
            self.runs.finished(final)

    # -- one event ----------------------------------------------------------------------------------------

    def _apply(self, conn: Connection, run: RunRecord, event: ev.Event) -> str | None:
        if isinstance(event, ev.RunStarted):
            if run.status in (RunStatus.PENDING, RunStatus.STARTING):
                values: dict[str, Any] = {"start_time": _at(event.time)}
                if event.engine_version and run.engine == "NEXTFLOW":
                    values["engine_version"] = event.engine_version
                self.runs.transition_in(conn, run, RunStatus.RUNNING, **values)
            return None
        if isinstance(event, ev.InputsStaged):
            run_store.update(conn, run.id, {"resource_digests": dict(event.resource_digests)})
            return None
        if isinstance(event, ev.TaskCreated):
            return self._task_created(conn, run, event)
        if isinstance(event, ev.TaskStarting | ev.TaskRunning | ev.TaskFinished):
            return self._task_progress(conn, run, event)
        if isinstance(event, ev.RunOutputs):
            run_store.update(conn, run.id, {"outputs": dict(event.outputs)})
            return f"Outputs exported to {event.outputs_uri}"
        if isinstance(event, ev.RunFinished):
            self._finish(
                conn,
                run,
                event.status,
                time_=_at(event.time),
                reason=event.failure_reason,
                message=event.status_message,
                storage_max_bytes=event.storage_max_bytes,
            )
            return None
        logger.warning("run.unknown_event id=%s type=%s", run.id, getattr(event, "type", "?"))
        return None

    def _task_created(self, conn: Connection, run: RunRecord, event: ev.TaskCreated) -> str | None:
        if task_store.get(conn, run.id, event.task_id) is not None:
            return None
        task_store.insert(
            conn,
            TaskRecord(
                run_id=run.id,
                task_id=event.task_id,
                uuid=new_uuid(),
                seq=task_store.next_seq(conn, run.id),
                name=event.name[:128],
                status=TaskStatus.PENDING,
                cpus=max(1, event.cpus),
                memory=max(1, event.memory_gib),
                gpus=max(0, event.gpus),
                instance_type=event.instance_type or None,
                image=event.image or None,
                creation_time=_at(event.time),
            ),
        )
        return f"Task {event.task_id} ({event.name}) created: {event.cpus} vCPU, {event.memory_gib} GiB"

    def _task_progress(
        self, conn: Connection, run: RunRecord, event: ev.TaskStarting | ev.TaskRunning | ev.TaskFinished
    ) -> str | None:
        task = task_store.get(conn, run.id, event.task_id)
        if task is None or task.status in TASK_TERMINAL:
            return None
        if isinstance(event, ev.TaskStarting):
            self.tasks.transition_in(conn, task, TaskStatus.STARTING)
            return None
        if isinstance(event, ev.TaskRunning):
            self.tasks.transition_in(conn, task, TaskStatus.RUNNING, start_time=_at(event.time))
            return f"Task {task.task_id} ({task.name}) started"
        target = TaskStatus(event.status)
        values: dict[str, Any] = {
            "stop_time": _at(event.time),
            "exit_status": event.exit_status,
            "metrics": asdict(event.metrics),
        }
        if event.failure_reason:
            values["failure_reason"] = event.failure_reason[:64]
        if event.status_message:
            values["status_message"] = event.status_message[:4000]
        if task.start_time is None and target == TaskStatus.COMPLETED:
            values["start_time"] = _at(event.time)
        if run.cache_id or event.cache_hit:
            values["cache_hit"] = event.cache_hit
            values["cache_s3_uri"] = event.cache_s3_uri[:1024] or None
        self.tasks.transition_in(conn, task, target, **values)
        suffix = f" (exit status {event.exit_status})" if event.exit_status not in (None, 0) else ""
        if event.cache_hit:
            suffix = f" from cache entry {event.cache_s3_uri}"
        return f"Task {task.task_id} ({task.name}) {target.value}{suffix}"

    def _finish(
        self,
        conn: Connection,
        run: RunRecord,
        status: str,
        *,
        time_: datetime,
        reason: str,
        message: str,
        storage_max_bytes: int = 0,
    ) -> None:
        target = RunStatus(status)
        if run.status in RUN_TERMINAL:
            return
        if target == RunStatus.CANCELLED and run.failure_reason == "RUN_TIMED_OUT":
            target = RunStatus.FAILED  # stopped by the scheduler's time-out, not by CancelRun
        if run.status in (RunStatus.PENDING, RunStatus.STARTING, RunStatus.RUNNING) and target != RunStatus.CANCELLED:
            if run.status != RunStatus.RUNNING and self.runs.transition_in(conn, run, RunStatus.RUNNING):
                run = run_store.get(conn, run.id) or run
            if self.runs.transition_in(conn, run, RunStatus.STOPPING):
                run = run_store.get(conn, run.id) or run
        for task in task_store.active(conn, run.id):
            self.tasks.transition_in(conn, task, TaskStatus.CANCELLED, stop_time=time_)
        values: dict[str, Any] = {"stop_time": time_}
        if reason:
            values["failure_reason"] = reason
        if message:
            values["status_message"] = message
        if storage_max_bytes:
            values["storage_max_bytes"] = storage_max_bytes
            if run.storage_type == "DYNAMIC":
                values["storage_capacity"] = max(1, math.ceil(storage_max_bytes / GIB))
        self.runs.transition_in(conn, run, target, **values)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
