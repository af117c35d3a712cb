"""cwltool's job executor for omicsd: every command-line job becomes a task, run in parallel.

Owns: :class:`TaskJobExecutor`, a ``MultithreadedJobExecutor`` (cwltool ``--parallel``) that

- creates a HealthOmics task for each :class:`~omicsd.engines.cwl._tool.HostCommandLineJob` cwltool hands
  it (TaskCreated, PENDING), with cpus / memory from the job's evaluated ``ResourceRequirement``
  (``coresMin`` / ``ramMin`` in MiB) and the image named by its ``DockerRequirement``;
- queues every runnable job on its worker threads at once, leaving capacity to omicsd's executor (a task
  waits there as STARTING), instead of cwltool's own accounting of host cores and RAM;
- stops the run (:class:`RunStopped`) as soon as it is cancelled, aborted or a task failed, and stops the
  tasks still running once the process has settled without success (a step failed outside any task);
- lets go of the workflow lock before waiting for its worker threads when cwltool's loop unwinds on an
  exception (:class:`_UnlockingQueue`), so that a stopping run always ends.

Expression-only steps (``ExpressionTool``, step ``valueFrom``) run inside the engine and make no task, as
on HealthOmics.

Must not: run commands itself (the job class hands them to the executor) or journal the run's outcome.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

from cwltool.context import RuntimeContext
from cwltool.errors import WorkflowException
from cwltool.executors import TMPDIR_LOCK, MultithreadedJobExecutor
from cwltool.job import JobBase

from omicsd.engines._resources import Requested
from omicsd.engines.cwl._tasks import RunContext
from omicsd.engines.cwl._tool import HostCommandLineJob

logger = logging.getLogger(__name__)

MIB = 1024**2


class RunStopped(WorkflowException):
    """The run is being cancelled, aborted, or failed: no further job is started."""


class TaskJobExecutor(MultithreadedJobExecutor):
    """Runs a CWL process's jobs as omicsd tasks (see the module docstring)."""

    def __init__(self, ctx: RunContext, *, threads: int) -> None:
        """Create the executor.

        Args:
            ctx: the run's task context.
            threads: worker threads, i.e. how many tasks may be STARTING or RUNNING at once.
        """
        super().__init__(max_parallel=threads)
        self.ctx = ctx
        self._eval_lock: Any = None
        self._queue: Any = None

    @property
    def taskqueue(self) -> Any:
        """cwltool's queue of worker threads, behind :class:`_UnlockingQueue`."""
        return self._queue

    @taskqueue.setter
    def taskqueue(self, queue: Any) -> None:
        self._queue = _UnlockingQueue(queue, self._eval_lock, self.ctx.halt.set)

    def run_jobs(
        self, process: Any, job_order_object: Any, logger: logging.Logger, runtime_context: RuntimeContext
    ) -> None:
        """cwltool's parallel loop, with the queue told which lock the loop holds."""
        self._eval_lock = runtime_context.workflow_eval_lock
        super().run_jobs(process, job_order_object, logger, runtime_context)

    def run_job(self, job: Any, runtime_context: RuntimeContext) -> None:
        """Queue ``job`` (``None``: nothing new) on a worker thread; raise :class:`RunStopped` once stopping.

        Once the process has settled without success (a step failed outside any task, for example its input
        expression), the tasks still running are stopped rather than awaited.
        """
        if any(status != "success" for status in self.final_status):
            self.ctx.halt.set()
        if self.ctx.stop_requested() or self.ctx.failure is not None:
            raise RunStopped("the run is stopping")
        if job is None:
            return
        if isinstance(job, HostCommandLineJob):
            image = _image(job)
            task = self.ctx.new_task(job.name, _requested(job, image), image)
            job.task = task
            if task.setup_failure is not None:
                task.finish("permanentFail")
                raise RunStopped(f"task {task.name} cannot run")
        elif isinstance(job, JobBase):  # a host or container job omicsd did not build: never run it unsupervised
            raise WorkflowException(f"job {job.name} was not built by omicsd's CWL tool factory")
        self.taskqueue.add(
            functools.partial(self._runner, job, runtime_context, TMPDIR_LOCK),
            runtime_context.workflow_eval_lock,
        )


class _UnlockingQueue:
    """cwltool's ``TaskQueue``, except that :meth:`join` first lets go of the workflow lock.

    When the loop stops on an exception (:class:`RunStopped`, an expression error) it still holds the
    workflow lock while it waits for the worker threads, and a worker that finishes a job needs that lock to
    hand its outputs over: without this, a run stopping while tasks still run would never end. Tasks still
    running then are stopped (``on_unwind``): the run is over.
    """

    def __init__(self, queue: Any, lock: Any, on_unwind: Callable[[], None]) -> None:
        self._queue = queue
        self._lock = lock
        self._on_unwind = on_unwind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    def join(self) -> None:
        """Wait for the worker threads; when the loop is unwinding, release its lock and stop running tasks."""
        unwinding = False
        while self._lock is not None:
            try:
                self._lock.release()
            except RuntimeError:  # not held by this thread: the loop ended normally
                break
            unwinding = True
        if unwinding:
            self._on_unwind()
        self._queue.join()


def _requested(job: HostCommandLineJob, image: str) -> Requested:
    resources = job.builder.resources
    cores = _number(resources.get("cores"), 1.0)
    ram_mib = _number(resources.get("ram"), 1024.0)
    gpus = math.ceil(_number(resources.get("cudaDeviceCount"), 0.0))
    return Requested(cpus=cores, memory_bytes=math.ceil(ram_mib * MIB), gpus=gpus, image=image)


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _image(job: HostCommandLineJob) -> str:
    """The image a job's ``DockerRequirement`` names (requirement or hint); empty when none."""
    requirement, _ = job.get_requirement("DockerRequirement")
    if not requirement:
        return ""
    for key in ("dockerPull", "dockerImageId"):
        value = requirement.get(key)
        if not isinstance(value, str) or not value:
            continue
        if "$(" in value or "${" in value:
            try:
                value = job.builder.do_eval(value)
            except Exception:
                logger.debug("cwl.image_expression_failed job=%s", job.name, exc_info=True)
        return str(value)
    return ""
