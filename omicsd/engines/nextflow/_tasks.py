"""Nextflow tasks as HealthOmics tasks: the journal events of every task attempt, from its trace records.

Owns: :class:`TaskTracker`, which turns weblog messages and trace-file records into TaskCreated,
TaskStarting, TaskRunning and TaskFinished events (each exactly once, in that order, whichever source
reports first), follows each task's ``.command.out`` / ``.command.err`` into its log stream, and
remembers failures and the workflow's own error message for the run's ``failureReason``.

Must not: talk to Nextflow or read files other than the task logs it is told to follow.

Mapping (one Nextflow task id = one attempt = one HealthOmics task):

* submitted → TaskCreated + TaskStarting at ``submit`` (Nextflow handed the task to its executor);
* started → TaskRunning at ``start``;
* COMPLETED / CACHED → TaskFinished COMPLETED; FAILED → FAILED (exit status 137: OUT_OF_MEMORY_ERROR, else
  RUN_TASK_FAILED); ABORTED (killed because the run stopped) → CANCELLED, as HealthOmics cancels the
  unfinished tasks of a failed or cancelled run.

A record that reports a later stage first (the trace file only knows finished tasks) emits the missing
earlier events with the record's own times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from omicsd.domain.instance_types import instance_type, normalize
from omicsd.engines._taskids import TaskIds
from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    Event,
    TaskCreated,
    TaskFinished,
    TaskMetrics,
    TaskRunning,
    TaskStarting,
)
from omicsd.engines.nextflow._trace import TaskRecord, record_from_fields
from omicsd.engines.nextflow._weblog import WeblogMessage
from omicsd.errors import ValidationError

logger = logging.getLogger(__name__)

GIB: Final = 1024**3
OOM_EXIT_STATUS: Final = 137
#: Failures Nextflow recovered from: the task stays FAILED, the run goes on.
HANDLED_ACTIONS: Final = frozenset({"RETRY", "IGNORE"})
TASK_LOG_FILES: Final = (".command.out", ".command.err")

LogFollower = Callable[[str, Sequence[Path]], AbstractContextManager[object]]
"""``follow(task_id, files)``: copies lines appended to ``files`` into the task's log stream while open."""


@dataclass(frozen=True)
class TaskFailure:
    """A failed task attempt, for the run's failureReason."""

    task_id: str
    name: str
    failure_reason: str
    status_message: str
    handled: bool
    """Nextflow retried or ignored the failure."""


@dataclass
class _Task:
    omics_id: str
    record: TaskRecord
    created_at: float
    running: bool = False
    finished: bool = False
    logs: ExitStack | None = field(default=None, repr=False)


class TaskTracker:
    """Journals the tasks of one Nextflow run; safe to feed from several threads."""

    def __init__(
        self,
        emit: Callable[[Event], None],
        *,
        new_task_id: Callable[[], str] | None = None,
        follow_logs: LogFollower | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a tracker.

        Args:
            emit: appends an event to the journal.
            new_task_id: a new HealthOmics task id (default: random 7-digit ids, unique in the run).
            follow_logs: copies task output files into task log streams (``None``: no task logs).
            clock: the time of an event whose record carries none.
        """
        self.emit = emit
        self.follow_logs = follow_logs
        self.clock = clock
        self.workflow_error = ""
        """The workflow's error message, as the weblog ``completed`` / ``error`` metadata reports it."""
        self.nextflow_version = ""
        """Nextflow's version from the weblog ``started`` metadata."""
        self._new_task_id = new_task_id or TaskIds().new
        self._lock = threading.RLock()
        self._tasks: dict[str, _Task] = {}
        self._failures: list[TaskFailure] = []

    # feeding

    def on_weblog(self, message: WeblogMessage) -> None:
        """Apply one weblog message."""
        record = record_from_fields(message.trace) if message.trace else None
        if record is not None:
            if message.event == "process_submitted":
                self.submitted(record, message.time)
            elif message.event == "process_started":
                self.started(record, message.time)
            elif message.event == "process_completed" or (message.event == "error" and record.final):
                self.finished(record, message.time)
        if message.metadata:
            self._note_metadata(message.metadata)

    def on_trace(self, records: Iterable[TaskRecord]) -> None:
        """Apply trace-file records (normally finished tasks)."""
        for record in records:
            if record.final:
                self.finished(record)
            elif record.status == "RUNNING":
                self.started(record)
            else:
                self.submitted(record)

    def submitted(self, record: TaskRecord, at: float | None = None) -> None:
        """The task was handed to Nextflow's executor: TaskCreated and TaskStarting."""
        with self._lock:
            self._task(record, at)

    def started(self, record: TaskRecord, at: float | None = None) -> None:
        """The task's command started: TaskRunning (after the events it still lacks)."""
        with self._lock:
            task = self._task(record, at)
            if not task.finished:
                self._run(task, record, at)

    def finished(self, record: TaskRecord, at: float | None = None) -> None:
        """The task ended: TaskFinished (after the events it still lacks)."""
        with self._lock:
            task = self._task(record, at)
            if task.finished:
                return
            if record.start is not None or (record.status in ("COMPLETED", "FAILED") and not task.running):
                self._run(task, record, at)
            self._finish(task, record, at)

    # the end of the run

    def settle(self, status: str, message: str) -> None:
        """Finish every task still open with ``status`` (the run ended before they did)."""
        with self._lock:
            for task in self._tasks.values():
                if not task.finished:
                    end = max(self.clock(), task.created_at)
                    self._close_logs(task)
                    task.finished = True
                    self.emit(TaskFinished(task_id=task.omics_id, status=status, time=end, status_message=message))

    def failure(self) -> TaskFailure | None:
        """The failure that stopped the run: the first one Nextflow did not recover from, else the last one."""
        with self._lock:
            fatal = [failure for failure in self._failures if not failure.handled]
            if fatal:
                return fatal[0]
            return self._failures[-1] if self._failures else None

    @property
    def open_tasks(self) -> int:
        """Tasks created and not finished yet."""
        with self._lock:
            return sum(not task.finished for task in self._tasks.values())

    # events, in the order a task lives them

    def _task(self, record: TaskRecord, at: float | None) -> _Task:
        task = self._tasks.get(record.task_id)
        if task is not None:
            task.record = record
            return task
        created = record.submit or at or self.clock()
        task = _Task(self._new_task_id(), record, created)
        self._tasks[record.task_id] = task
        self.emit(_created(task.omics_id, record, created))
        self.emit(TaskStarting(task_id=task.omics_id, time=created))
        return task

    def _run(self, task: _Task, record: TaskRecord, at: float | None) -> None:
        if task.running:
            return
        task.running = True
        started = max(record.start or at or self.clock(), task.created_at)
        self.emit(TaskRunning(task_id=task.omics_id, time=started))
        self._open_logs(task)

    def _finish(self, task: _Task, record: TaskRecord, at: float | None) -> None:
        task.finished = True
        if task.logs is None:
            self._open_logs(task)  # a task seen only once finished: copy its whole output now
        self._close_logs(task)
        end = max(record.complete or at or self.clock(), task.created_at)
        status, reason, message = _outcome(record)
        if status == FAILED:
            handled = record.error_action in HANDLED_ACTIONS
            self._failures.append(TaskFailure(task.omics_id, record.name, reason, message, handled))
        exit_status = None if record.status == "CACHED" else record.exit_status
        self.emit(
            TaskFinished(
                task_id=task.omics_id,
                status=status,
                time=end,
                exit_status=exit_status,
                failure_reason=reason,
                status_message=message,
                metrics=_metrics(record),
            )
        )

    # task logs

    def _open_logs(self, task: _Task) -> None:
        workdir = task.record.workdir
        if self.follow_logs is None or not workdir or task.logs is not None:
            return
        stack = ExitStack()
        try:
            stack.enter_context(self.follow_logs(task.omics_id, [Path(workdir) / name for name in TASK_LOG_FILES]))
        except Exception:
            logger.warning("task.logs_unavailable task=%s", task.omics_id, exc_info=True)
            return
        task.logs = stack

    def _close_logs(self, task: _Task) -> None:
        if task.logs is not None:
            try:
                task.logs.close()
            except Exception:
                logger.warning("task.logs_close_failed task=%s", task.omics_id, exc_info=True)

    # metadata and identity

    def _note_metadata(self, metadata: Any) -> None:
        workflow = metadata.get("workflow") if isinstance(metadata, dict) else None
        if not isinstance(workflow, dict):
            return
        with self._lock:
            error = workflow.get("errorMessage") or workflow.get("errorReport")
            if isinstance(error, str) and error.strip():
                self.workflow_error = error.strip()
            nextflow = workflow.get("nextflow")
            if isinstance(nextflow, dict) and isinstance(nextflow.get("version"), str):
                self.nextflow_version = nextflow["version"]


def _created(task_id: str, record: TaskRecord, at: float) -> TaskCreated:
    memory_gib = record.memory_bytes / GIB if record.memory_bytes else None
    try:
        cpus, memory, gpus = normalize(record.cpus, memory_gib, record.gpus)
    except ValidationError:
        cpus, memory, gpus = 1, 1, 0
    try:
        instance = instance_type(cpus, memory, gpus, record.accelerator_type or None)
    except ValidationError as exn:
        logger.warning("task.no_instance_type task=%s name=%s: %s", task_id, record.name, exn.message)
        instance = ""
    return TaskCreated(
        task_id=task_id,
        name=record.name,
        cpus=cpus,
        memory_gib=memory,
        gpus=gpus,
        instance_type=instance,
        image=record.container,
        time=at,
    )


def _outcome(record: TaskRecord) -> tuple[str, str, str]:
    """``(status, failure_reason, status_message)`` of a finished record."""
    if record.status in ("COMPLETED", "CACHED"):
        return COMPLETED, "", ""
    if record.status == "ABORTED":
        return CANCELLED, "", f"Task {record.name} was aborted because the run is stopping"
    if record.exit_status == OOM_EXIT_STATUS:
        return FAILED, "OUT_OF_MEMORY_ERROR", f"Task {record.name} ran out of memory (exit status 137)"
    if record.exit_status is None:
        return FAILED, "RUN_TASK_FAILED", f"Task {record.name} failed"
    return FAILED, "RUN_TASK_FAILED", f"Task {record.name} failed with exit status {record.exit_status}"


def _metrics(record: TaskRecord) -> TaskMetrics:
    cpus = round(record.cpu_percent / 100, 3) if record.cpu_percent is not None else 0.0
    running = record.realtime
    if running is None and record.start is not None and record.complete is not None:
        running = max(0.0, record.complete - record.start)
    return TaskMetrics(
        cpus_max=cpus,
        cpus_avg=cpus,
        memory_max_gib=round((record.peak_rss or 0) / GIB, 4),
        memory_avg_gib=round((record.rss or 0) / GIB, 4),
        running_seconds=round(running or 0.0, 3),
    )
