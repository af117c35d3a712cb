"""Apply an engine driver's journal events to runs and tasks, exactly once.

Owns: :class:`RunEventApplier`. The events of one journal read and the run's new journal offset are written in
one transaction, so a crash between reading and applying replays the same events on restart, and a replay
after a successful write never happens (the offset moved with the changes). Every status change goes through
the run ``transition()`` and the task service (task events of one read are folded and written in bulk by
:meth:`~omicsd.services.tasks.TaskService.apply_batch`).
Must not: read journals or manage processes (the scheduler's supervisor does).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from omicsd.domain.ids import new_uuid
from omicsd.domain.runs import RunRecord
from omicsd.domain.states import RUN_TERMINAL, RunStatus, TaskStatus
from omicsd.domain.tasks import TaskRecord
from omicsd.engines import events as ev
from omicsd.services.runs import RunService
from omicsd.services.tasks import TaskChange, TaskService
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
        """Apply ``events`` and store ``new_offset``; returns the run afterwards (``None`` if it is gone).

        Task events are gathered and handed to :meth:`TaskService.apply_batch` in one go (before a
        ``run.finished`` and at the end), so a journal read costs a few statements, not a few per event.
        """
        entries: list[str | _TaskStep] = []
        with self.runs.store.write() as conn:
            run = run_store.get(conn, run_id)
            if run is None:
                return None
            steps: list[_TaskStep] = []
            for event in events:
                if isinstance(event, _TASK_EVENTS):
                    step = self._task_step(run, event)
                    steps.append(step)
                    entries.append(step)
                    continue
                if isinstance(event, ev.RunFinished):
                    self._apply_steps(conn, run.id, steps)
                    steps = []
                message = self._apply_run_event(conn, run, event)
                if message:
                    entries.append(message)
                run = run_store.get(conn, run_id) or run
            self._apply_steps(conn, run.id, steps)
            run_store.update(conn, run_id, {"journal_offset": new_offset})
            final = run_store.get(conn, run_id)
        if final is not None:
            self.runs.log_many(final, [m for m in (e if isinstance(e, str) else e.message() for e in entries) if m])
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

    # -- run events ---------------------------------------------------------------------------------------

    def _apply_run_event(self, conn: Connection, run: RunRecord, event: ev.Event) -> str | None:
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

    # -- task events ----------------------------------------------------------------------------------------

    def _task_step(self, run: RunRecord, event: _TaskEvent) -> _TaskStep:
        if isinstance(event, ev.TaskCreated):
            record = TaskRecord(
                run_id=run.id,
                task_id=event.task_id,
                uuid=new_uuid(),
                seq=0,
                name=event.name[:128],
                status=TaskStatus.PENDING,
                cpus=max(1, event.cpus),
                memory=max(1, event.memory_gib),
                gpus=max(0, event.gpus),
                instance_type=event.instance_type or None,
                image=event.image or None,
                creation_time=_at(event.time),
            )
            return _TaskStep(event, TaskChange.create(record))
        if isinstance(event, ev.TaskStarting):
            return _TaskStep(event, TaskChange(event.task_id, TaskStatus.STARTING))
        if isinstance(event, ev.TaskRunning):
            return _TaskStep(event, TaskChange(event.task_id, TaskStatus.RUNNING, {"start_time": _at(event.time)}))
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
        if run.cache_id or event.cache_hit:
            values["cache_hit"] = event.cache_hit
            values["cache_s3_uri"] = event.cache_s3_uri[:1024] or None
        defaults = {"start_time": _at(event.time)} if target == TaskStatus.COMPLETED else {}
        return _TaskStep(event, TaskChange(event.task_id, target, values, defaults))

    def _apply_steps(self, conn: Connection, run_id: str, steps: Sequence[_TaskStep]) -> None:
        if not steps:
            return
        results = self.tasks.apply_batch(conn, run_id, [step.change for step in steps])
        for step, task in zip(steps, results, strict=True):
            step.task = task

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
        unfinished = [
            TaskChange(t.task_id, TaskStatus.CANCELLED, {"stop_time": time_}) for t in task_store.active(conn, run.id)
        ]
        if unfinished:
            self.tasks.apply_batch(conn, run.id, unfinished)  # a few statements, however many tasks were left
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


_TaskEvent = ev.TaskCreated | ev.TaskStarting | ev.TaskRunning | ev.TaskFinished
_TASK_EVENTS = (ev.TaskCreated, ev.TaskStarting, ev.TaskRunning, ev.TaskFinished)


@dataclass
class _TaskStep:
    """A task event, the change it asks for, and the task after it was applied (``None``: ignored)."""

    event: _TaskEvent
    change: TaskChange
    task: TaskRecord | None = None

    def message(self) -> str | None:
        """The run log line of the step, if it changed something worth saying."""
        event, task = self.event, self.task
        if task is None:
            return None
        if isinstance(event, ev.TaskCreated):
            return f"Task {event.task_id} ({event.name}) created: {event.cpus} vCPU, {event.memory_gib} GiB"
        if isinstance(event, ev.TaskStarting):
            return None
        if isinstance(event, ev.TaskRunning):
            return f"Task {task.task_id} ({task.name}) started"
        suffix = f" (exit status {event.exit_status})" if event.exit_status not in (None, 0) else ""
        if event.cache_hit:
            suffix = f" from cache entry {event.cache_s3_uri}"
        return f"Task {task.task_id} ({task.name}) {event.status}{suffix}"


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
