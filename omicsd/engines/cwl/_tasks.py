"""The tasks of one CWL run: identity, life-cycle events and how each one ended.

Owns: :class:`RunContext` (journal, executor, log followers, task IDs, the run's job cache, the cancel / abort /
halt / fail-fast flags, the run's first task failure and the run's command record), :class:`Task` (one
HealthOmics task: a cwltool ``CommandLineJob``) and :class:`CapacityGate` (this run's commands wait for the
executor's capacity in-process). A task's events are emitted through its own methods, each at most once and in
order: TaskCreated when cwltool hands the job to the executor (PENDING), TaskStarting when a worker thread picks
it up (waiting for capacity), TaskRunning when the command starts, TaskFinished once cwltool has collected its
outputs, or at once, with ``cache_hit``, when a run-cache entry serves the job instead.

Files under ``tasks_root`` (``cwl/tasks/``): ``<name>-<taskId>.stdout.txt`` / ``.stderr.txt`` (a command's
output unless the tool redirects it); ``commands.jsonl``, one JSON object per command run (``task``: the
``<name>-<taskId>`` its files are named after; ``command``: the command line as a shell would read it); with a
run cache, a directory ``<name>-<taskId>/`` holding the files of the cache entry that served the task or the
constant outputs it recorded. A task that needs no directory gets none: creating a file or a directory costs
more than many scatter commands take to run.

Must not: import cwltool (the job and executor classes do, and call in here) or decide a run's outcome.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from omicsd.engines._resources import Requested, instance_type_or_error
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
from omicsd.engines.spec import RunSpec
from omicsd.errors import ValidationError
from omicsd.executors.base import TaskExecutor, TaskResult

if TYPE_CHECKING:
    from omicsd.engines.cwl.cache import JobCache

logger = logging.getLogger(__name__)

GIB = 1024**3

LogFollower = Callable[[str, Sequence[Path]], AbstractContextManager[object]]
"""``follow(task_id, files)``: copies lines appended to ``files`` into the task's log stream while open."""

COMMANDS_FILE = "commands.jsonl"
"""The run's command record, in ``tasks_root``."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_GATE_POLL = 0.05


@dataclass(frozen=True)
class Failure:
    """Why a task (and so the run) failed."""

    task_id: str
    failure_reason: str
    status_message: str


class Task:
    """One HealthOmics task: a cwltool command-line job run through the executor."""

    def __init__(self, ctx: RunContext, task_id: str, name: str, requested: Requested) -> None:
        """Describe a task (nothing is emitted yet; see :meth:`RunContext.new_task`)."""
        self.ctx = ctx
        self.task_id = task_id
        self.name = name
        self.requested = requested
        self.cpus, self.memory_gib, self.gpus = requested.normalized()
        self.instance_type = ""
        """The instance type the request maps to (empty when none fits)."""
        self.label = f"{_UNSAFE.sub('_', name)[:100]}-{task_id}"
        """``<name>-<taskId>`` with the name made safe for a file name: what the task's files are named after."""
        self.directory = ctx.tasks_root / self.label
        """With a run cache, holds the files of a cache entry that served the task (``out/...``) or the constant
        outputs it recorded (created by the cache when it needs it)."""
        self.result: TaskResult | None = None
        self.setup_failure: tuple[str, str] | None = None
        """``(failure_reason, detail)`` when the command could not be started."""
        self.output_error = ""
        """cwltool's message when collecting the outputs of a successful command failed."""
        self._finished = False
        self._lock = threading.Lock()

    def output_path(self, stream: str) -> Path:
        """Where the command's ``stream`` (``stdout`` / ``stderr``) goes when the tool does not redirect it."""
        return self.ctx.tasks_root / f"{self.label}.{stream}.txt"

    # life cycle, in order

    def starting(self) -> None:
        """A worker thread picked the job up: it now waits for capacity (STARTING)."""
        self.ctx.emit(TaskStarting(task_id=self.task_id, time=time.time()))

    def running(self, at: float) -> None:
        """The command started (RUNNING)."""
        self.ctx.emit(TaskRunning(task_id=self.task_id, time=at))

    def finish(self, process_status: str) -> None:
        """cwltool settled the job with ``process_status`` (``success``, ``permanentFail``, ...)."""
        if process_status == "success":
            self._emit_finished(COMPLETED)
            return
        result = self.result
        if result is not None and result.cancelled:
            self._emit_finished(CANCELLED, status_message="Task cancelled")
            return
        if result is None and self.setup_failure is None and self.ctx.should_cancel():
            self._emit_finished(CANCELLED, status_message="Task cancelled")
            return
        reason, message = self._failure()
        self.ctx.record_failure(Failure(self.task_id, reason, message))
        self._emit_finished(FAILED, failure_reason=reason, status_message=message)

    def served_from_cache(self, cache_s3_uri: str) -> None:
        """A run-cache entry (at ``cache_s3_uri``) provided the outputs: COMPLETED without running."""
        self._emit_finished(COMPLETED, cache_s3_uri=cache_s3_uri)

    def crashed(self, exn: BaseException) -> None:
        """The job raised before cwltool could settle it (staging, setup)."""
        if self.setup_failure is None and self.result is None:
            self.setup_failure = ("RUN_TASK_FAILED", _describe(exn))
        self.finish("permanentFail")

    def cancel_if_open(self) -> None:
        """At the end of a run, a task that never finished (never picked up) ends CANCELLED."""
        self._emit_finished(CANCELLED, status_message="Task cancelled")

    # helpers

    def _failure(self) -> tuple[str, str]:
        result = self.result
        if self.setup_failure is not None:
            reason, detail = self.setup_failure
            if reason == "RUN_TASK_FAILED":
                return reason, f"Task {self.name} failed: {detail}"
            return reason, f"Task {self.name} could not start: {detail}"
        if result is None:
            return "RUN_TASK_FAILED", f"Task {self.name} failed"
        status = result.exit_status
        if result.oom_killed or status == 128 + signal.SIGKILL:
            return "OUT_OF_MEMORY_ERROR", f"Task {self.name} ran out of memory (exit status {status})"
        if result.timed_out:
            return "TASK_TIMED_OUT", f"Task {self.name} timed out"
        if self.output_error:
            return "RUN_TASK_FAILED", f"Task {self.name} failed: {self.output_error}"
        return "RUN_TASK_FAILED", f"Task {self.name} failed with exit status {status}"

    def _emit_finished(
        self, status: str, *, failure_reason: str = "", status_message: str = "", cache_s3_uri: str = ""
    ) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        result = self.result
        metrics = TaskMetrics()
        end = time.time()
        exit_status: int | None = None
        if result is not None:
            end = result.end_time
            exit_status = result.exit_status
            metrics = TaskMetrics(
                cpus_max=round(result.max_cpus, 3),
                cpus_avg=round(result.avg_cpus, 3),
                memory_max_gib=round(result.max_memory_bytes / GIB, 4),
                memory_avg_gib=round(result.avg_memory_bytes / GIB, 4),
                running_seconds=round(max(0.0, result.end_time - result.start_time), 3),
            )
        self.ctx.forget(self)
        self.ctx.emit(
            TaskFinished(
                task_id=self.task_id,
                status=status,
                time=end,
                exit_status=exit_status,
                failure_reason=failure_reason,
                status_message=status_message,
                metrics=metrics,
                cache_hit=bool(cache_s3_uri),
                cache_s3_uri=cache_s3_uri,
            )
        )


class CapacityGate:
    """Admits this run's task commands to the executor as its capacity allows, waking waiters at once.

    The executor accounts for capacity across runs but polls while a request does not fit; tasks of the
    same run that wait here instead are woken as soon as one of them releases its share.
    """

    def __init__(self, capacity: Mapping[str, int]) -> None:
        """Gate on ``capacity`` (the executor's ``{"cpus", "memory_bytes", "gpus"}``; 0 or absent: no limit)."""
        self.limits = (int(capacity.get("cpus", 0)), int(capacity.get("memory_bytes", 0)), int(capacity.get("gpus", 0)))
        self._used = [0, 0, 0]
        self._condition = threading.Condition()

    @contextmanager
    def admitted(self, cpus: int, memory_bytes: int, gpus: int, should_cancel: Callable[[], bool]) -> Iterator[bool]:
        """Wait until the request fits beside this run's other commands; yields ``False`` if cancelled first."""
        want = (cpus, memory_bytes, gpus)
        admitted = False
        with self._condition:
            while not self._fits(want):
                if should_cancel():
                    break
                self._condition.wait(_GATE_POLL)
            else:
                for i, amount in enumerate(want):
                    self._used[i] += amount
                admitted = True
        if not admitted:
            yield False
            return
        try:
            yield True
        finally:
            with self._condition:
                for i, amount in enumerate(want):
                    self._used[i] -= amount
                self._condition.notify_all()

    def _fits(self, want: tuple[int, int, int]) -> bool:
        if not any(self._used):
            return True  # one command alone always goes to the executor (which rejects what can never fit)
        return all(
            not limit or used + amount <= limit
            for used, amount, limit in zip(self._used, want, self.limits, strict=True)
        )


class RunContext:
    """Everything the executor and the job classes of one run share; safe to use from worker threads."""

    def __init__(
        self,
        spec: RunSpec,
        *,
        emit: Callable[[Event], None],
        executor: TaskExecutor,
        tasks_root: Path,
        follow_logs: LogFollower | None = None,
    ) -> None:
        """Create the context of one run.

        Args:
            spec: the run.
            emit: appends an event to the journal.
            executor: runs the task commands.
            tasks_root: directory under which each task gets its own directory.
            follow_logs: copies task stdout/stderr into task log streams (``None``: no task logs).
        """
        self.spec = spec
        self.emit = emit
        self.executor = executor
        self.tasks_root = tasks_root
        self.follow_logs = follow_logs
        self.job_cache: JobCache | None = None
        """The run's run cache as command-line jobs use it (``None``: the run has no cache)."""
        self.gate = CapacityGate(executor.capacity())
        self.cancel_requested = threading.Event()
        self.halt = threading.Event()
        """Set when the engine gives up on the run (an error outside any task): running tasks stop."""
        self.abort_reason: tuple[str, str] | None = None
        """``(failure_reason, status_message)`` when the driver aborts the run (storage exceeded)."""
        self.failure: Failure | None = None
        """The run's first task failure: the run fails with it, and every other task is cancelled."""
        self._lock = threading.Lock()
        self._task_ids = TaskIds()
        self._open: dict[str, Task] = {}
        self._commands: TextIO | None = None

    # tasks

    def new_task(self, name: str, requested: Requested, image: str) -> Task:
        """Create a task and emit TaskCreated; a request no instance type fits fails the task at once."""
        task = Task(self, self._task_ids.new(), name, requested)
        try:
            instance_type = instance_type_or_error(task.cpus, task.memory_gib, task.gpus, requested.accelerator_type)
        except ValidationError as exn:
            instance_type = ""
            task.setup_failure = ("INVALID_TASK_RESOURCE_VALUE", str(exn))
        task.instance_type = instance_type
        with self._lock:
            self._open[task.task_id] = task
        self.emit(
            TaskCreated(
                task_id=task.task_id,
                name=name,
                cpus=task.cpus,
                memory_gib=task.memory_gib,
                gpus=task.gpus,
                instance_type=instance_type,
                image=image,
                time=time.time(),
            )
        )
        return task

    def forget(self, task: Task) -> None:
        """``task`` finished: it no longer needs settling at the end of the run."""
        with self._lock:
            self._open.pop(task.task_id, None)

    def settle_all(self) -> None:
        """At the end of the run, every task that never finished ends CANCELLED."""
        with self._lock:
            left = list(self._open.values())
        for task in left:
            task.cancel_if_open()

    def record_command(self, task: Task, argv: Sequence[str]) -> None:
        """Append ``task``'s command line to ``commands.jsonl`` (the run's record of what it ran)."""
        line = json.dumps({"task": task.label, "command": shlex.join(argv)}) + "\n"
        with self._lock:
            if self._commands is None:
                self.tasks_root.mkdir(parents=True, exist_ok=True)
                self._commands = open(self.tasks_root / COMMANDS_FILE, "a", encoding="utf-8")  # noqa: SIM115
            self._commands.write(line)
            self._commands.flush()

    def close(self) -> None:
        """Close the command record (at the end of the run)."""
        with self._lock:
            commands, self._commands = self._commands, None
        if commands is not None:
            commands.close()

    # stopping

    def should_cancel(self) -> bool:
        """True once running tasks must stop: the run is cancelled, aborted, halted or already failed."""
        return (
            self.cancel_requested.is_set()
            or self.halt.is_set()
            or self.abort_reason is not None
            or self.failure is not None
        )

    def stop_requested(self) -> bool:
        """True once the run is being cancelled or aborted from outside the engine."""
        return self.cancel_requested.is_set() or self.abort_reason is not None

    def abort(self, failure_reason: str, message: str) -> None:
        """Fail the run from outside the engine (storage exceeded): running tasks are stopped."""
        with self._lock:
            if self.abort_reason is not None:
                return
            self.abort_reason = (failure_reason, message)
        logger.error("run.aborting reason=%s message=%s", failure_reason, message)

    def record_failure(self, failure: Failure) -> None:
        """Remember the run's first task failure (later ones are consequences or siblings)."""
        with self._lock:
            if self.failure is None and not self.stop_requested():
                self.failure = failure
                logger.error(
                    "task.failed id=%s reason=%s message=%s",
                    failure.task_id,
                    failure.failure_reason,
                    failure.status_message,
                )

    # helpers


def _describe(exn: BaseException) -> str:
    text = str(exn).strip()
    return f"{type(exn).__name__}: {text}" if text else type(exn).__name__
