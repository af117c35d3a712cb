"""The state one WDL driver shares with its miniwdl plugins (container backend and observers).

Owns: :class:`DriverContext` (journal, executor, task IDs, task names, per-task attempts and outcomes,
the run cache, cancel and abort flags) and the module-level slot that tells the plugins they run inside an
omicsd driver (:func:`activate` / :func:`current`). Outside a driver :func:`current` is ``None`` and the
plugins stay inert.

Must not: start or stop miniwdl; the driver does.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from omicsd.engines._cache import RunCache
from omicsd.engines._taskids import TaskIds
from omicsd.engines.events import COMPLETED, FAILED, Event, TaskCreated, TaskFinished, TaskMetrics
from omicsd.engines.spec import RunSpec
from omicsd.executors.base import TaskExecutor

logger = logging.getLogger(__name__)

LogFollower = Callable[[str, Sequence[Path]], AbstractContextManager[object]]
"""``follow(task_id, files)``: copies lines appended to ``files`` into the task's log stream while open."""


@dataclass(frozen=True)
class TaskOutcome:
    """How one attempt ended, kept until the task's fate is known."""

    task_id: str
    name: str
    exit_status: int | None
    time: float
    failure_reason: str = ""
    status_message: str = ""
    metrics: TaskMetrics = field(default_factory=TaskMetrics)

    def finished(self, status: str, *, failure_reason: str = "", status_message: str = "") -> TaskFinished:
        """The TaskFinished event for this attempt with ``status``."""
        return TaskFinished(
            task_id=self.task_id,
            status=status,
            time=self.time,
            exit_status=self.exit_status,
            failure_reason=failure_reason or self.failure_reason,
            status_message=status_message or self.status_message,
            metrics=self.metrics,
        )


class DriverContext:
    """Everything the plugins of one run need; safe to use from miniwdl's worker threads."""

    def __init__(
        self,
        spec: RunSpec,
        *,
        emit: Callable[[Event], None],
        executor: TaskExecutor,
        wdl_root: Path,
        follow_logs: LogFollower | None = None,
        cancel_requested: threading.Event | None = None,
    ) -> None:
        """Create the context of one run.

        Args:
            spec: the run.
            emit: appends an event to the journal.
            executor: runs the task attempts.
            wdl_root: miniwdl's run directory (task names are derived from paths below it).
            follow_logs: copies task stdout/stderr into task log streams (``None``: no task logs).
            cancel_requested: the event a cancel request sets (a new one by default).
        """
        self.spec = spec
        self.emit = emit
        self.executor = executor
        self.wdl_root = wdl_root
        self.follow_logs = follow_logs
        self.cancel_requested = cancel_requested or threading.Event()
        self.abort_reason: tuple[str, str] | None = None
        """``(failure_reason, status_message)`` when the driver aborts the run (storage exceeded)."""
        self.run_cache: RunCache | None = None
        """The run's run cache, once the driver opened it (``None``: the run has none)."""
        self._lock = threading.Lock()
        self._task_ids = TaskIds()
        self._attempts: dict[str, TaskCreated] = {}
        self._pending: dict[str, TaskOutcome] = {}
        self._failures: dict[str, TaskOutcome] = {}
        self._names: dict[tuple[str, str], str] = {}

    # identity

    def new_task_id(self) -> str:
        """A random 7-digit task ID not used before in this run."""
        return self._task_ids.new()

    def task_name(self, host_dir: str, run_id: str) -> str:
        """HealthOmics name of the task whose miniwdl directory is ``host_dir``."""
        key = (host_dir, run_id)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = task_name(self.wdl_root, Path(host_dir), run_id)
        return name

    def note_attempt(self, host_dir: str, created: TaskCreated) -> None:
        """Remember the latest attempt of the task in ``host_dir`` (its ID and resources, for the run cache)."""
        with self._lock:
            self._attempts[host_dir] = created

    def last_attempt(self, host_dir: str) -> TaskCreated | None:
        """The TaskCreated of the latest attempt of the task in ``host_dir``, if it had one."""
        with self._lock:
            return self._attempts.get(host_dir)

    # stopping

    def stop_requested(self) -> bool:
        """True once the run is being cancelled or aborted."""
        return self.cancel_requested.is_set() or self.abort_reason is not None

    def abort(self, failure_reason: str, message: str) -> None:
        """Fail the run from outside the engine: stop running tasks and make miniwdl terminate."""
        with self._lock:
            if self.abort_reason is not None:
                return
            self.abort_reason = (failure_reason, message)
        logger.error("run.aborting reason=%s message=%s", failure_reason, message)
        if callable(signal.getsignal(signal.SIGUSR1)):  # miniwdl's handler is installed: use its abort signal
            os.kill(os.getpid(), signal.SIGUSR1)

    # task outcomes

    def record_failure(self, host_dir: str, outcome: TaskOutcome) -> None:
        """Remember the last failed attempt of the task in ``host_dir`` (for the run's failure reason)."""
        with self._lock:
            self._failures[host_dir] = outcome

    def failure(self, host_dir: str) -> TaskOutcome | None:
        """The last failed attempt of the task in ``host_dir``, if any."""
        with self._lock:
            return self._failures.get(host_dir)

    def defer(self, host_dir: str, outcome: TaskOutcome) -> None:
        """Hold a successful attempt's TaskFinished until the task's outputs are collected."""
        with self._lock:
            self._pending[host_dir] = outcome

    def settle(self, host_dir: str, *, error: str | None = None) -> None:
        """Emit the held TaskFinished of the task in ``host_dir``: COMPLETED, or FAILED with ``error``."""
        with self._lock:
            outcome = self._pending.pop(host_dir, None)
        if outcome is None:
            return
        if error is None:
            self.emit(outcome.finished(COMPLETED))
            return
        failed = TaskOutcome(
            outcome.task_id,
            outcome.name,
            outcome.exit_status,
            outcome.time,
            "RUN_TASK_FAILED",
            error,
            outcome.metrics,
        )
        self.record_failure(host_dir, failed)
        self.emit(failed.finished(FAILED))

    def settle_all(self) -> None:
        """At the end of the run, emit every TaskFinished still held."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for outcome in pending.values():  # the command succeeded: the task did complete
            self.emit(outcome.finished(COMPLETED))


_current: DriverContext | None = None
_current_lock = threading.Lock()


def current() -> DriverContext | None:
    """The context of the driver running in this process, or ``None`` (plain miniwdl)."""
    return _current


@contextmanager
def activate(ctx: DriverContext) -> Iterator[DriverContext]:
    """Make ``ctx`` the process's driver context for the duration of the block."""
    global _current
    with _current_lock:
        if _current is not None:
            raise RuntimeError("a WDL driver is already running in this process")
        _current = ctx
    try:
        yield ctx
    finally:
        with _current_lock:
            _current = None


def task_name(wdl_root: Path, host_dir: Path, run_id: str) -> str:
    """HealthOmics task name from miniwdl's call directory.

    ``<root>/call-x`` → ``call-x``; scatter shards ``call-x-07`` → ``call-x-7`` (miniwdl zero-pads);
    nested scatters ``call-x-1-03`` → ``call-x-1-3``; a call inside a sub-workflow call
    ``<root>/call-sub-2/call-x-0`` → ``call-sub-2.call-x-0``. A bare task run is ``call-<task>``.
    """
    rel = Path(os.path.relpath(host_dir, wdl_root))
    if rel.parts[:1] == ("..",):
        rel = Path(host_dir.name)
    parts = [_call_id(part) for part in rel.parts if part not in ("", ".")]
    if not parts:
        return run_id if run_id.startswith("call-") else f"call-{run_id}"
    return ".".join(parts)


def _call_id(part: str) -> str:
    if not part.startswith("call-"):
        return part
    head, *indices = part[5:].split("-")
    return "-".join(["call", head, *(str(int(i)) if i.isdigit() else i for i in indices)])
