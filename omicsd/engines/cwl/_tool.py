"""cwltool's command-line tools, run on the host through omicsd's executor.

Owns: :func:`make_tool` (the ``LoadingContext.construct_tool_object`` factory), :class:`HostCommandLineTool`
(whose job runner is always :class:`HostCommandLineJob`, even when ``DockerRequirement`` is under
``requirements``: images are recorded, commands run on the host) and :class:`HostCommandLineJob`, which
keeps cwltool's staging, ``InitialWorkDirRequirement``, environment, stdin/stdout/stderr redirection and
output collection, but hands the command itself to :meth:`omicsd.executors.base.TaskExecutor.run`.

With a run cache, a job first asks the run's :class:`~omicsd.engines.cwl.cache.JobCache` on its worker
thread: a hit hands the entry's outputs to cwltool without staging or running anything; a job that ran after
a miss and succeeded is recorded for the export phase.

cwltool starts a job's command through its module function ``cwltool.job._job_popen``;
:func:`install_host_runner` replaces it by a dispatcher that sends the commands of a
:class:`HostCommandLineJob` (found in a thread-local while the job runs on its worker thread) to the executor
and leaves any other caller to cwltool's own function.

Must not: decide the run's outcome, or be used outside an omicsd CWL driver (a job without a task raises).
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import cwltool.job
from cwltool.command_line_tool import CommandLineTool
from cwltool.context import LoadingContext, RuntimeContext
from cwltool.errors import WorkflowException
from cwltool.job import CommandLineJob, JobBase
from cwltool.workflow import default_make_tool
from ruamel.yaml.comments import CommentedMap

from omicsd.engines.cwl._tasks import Task
from omicsd.errors import OmicsdError, ValidationError
from omicsd.executors.base import TaskRequest, TaskResult

logger = logging.getLogger(__name__)

GIB = 1024**3

_active = threading.local()
_engine_popen: Any = None


def make_tool(toolpath_object: CommentedMap, loading_context: LoadingContext) -> Any:
    """cwltool's default process factory, except that command-line tools are :class:`HostCommandLineTool`."""
    if toolpath_object.get("class") == "CommandLineTool":
        return HostCommandLineTool(toolpath_object, loading_context)
    return default_make_tool(toolpath_object, loading_context)


def install_host_runner() -> None:
    """Route the commands of :class:`HostCommandLineJob` to the executor (idempotent).

    Raises:
        RuntimeError: this cwltool build does not start commands through ``cwltool.job._job_popen``
            (a compiled build), so commands would bypass the executor.
    """
    global _engine_popen
    if cwltool.job._job_popen is _dispatch_popen:
        return
    if not inspect.isfunction(JobBase._execute) or not callable(getattr(cwltool.job, "_job_popen", None)):
        raise RuntimeError("this cwltool build cannot hand task commands to omicsd's executor")
    _engine_popen = cwltool.job._job_popen
    cwltool.job._job_popen = _dispatch_popen  # type: ignore[assignment]


class HostCommandLineTool(CommandLineTool):
    """A ``CommandLineTool`` whose jobs always run on the host through the executor."""

    def make_job_runner(self, runtimeContext: RuntimeContext) -> type[JobBase]:
        """Always :class:`HostCommandLineJob` (container requirements only name an image)."""
        return HostCommandLineJob

    def job(self, job_order: Any, output_callbacks: Any, runtimeContext: RuntimeContext) -> Generator[Any, None, None]:
        """cwltool's jobs for ``job_order``, each told the tool document it was made from."""
        for item in super().job(job_order, output_callbacks, runtimeContext):
            if isinstance(item, HostCommandLineJob):
                item.tool_doc = self.tool
            yield item


class HostCommandLineJob(CommandLineJob):
    """A cwltool command-line job that is one HealthOmics task (see the module docstring)."""

    task: Task | None = None
    """Set by the job executor when it creates the task, before the job runs."""
    tool_doc: Mapping[str, Any] | None = None
    """The ``CommandLineTool`` document the job was made from (set by :meth:`HostCommandLineTool.job`)."""

    def run(self, runtimeContext: RuntimeContext, tmpdir_lock: threading.Lock | None = None) -> None:
        """Run the job on this worker thread: STARTING, then cwltool's staging and command, then outputs.

        A job a run-cache entry serves hands the entry's outputs over instead, and the task ends as a hit.
        """
        task = self.task
        if task is None:
            raise WorkflowException(f"job {self.name} runs only inside an omicsd CWL driver")
        if self._served_from_cache(task, runtimeContext):
            return
        task.starting()
        self._observe(task)
        _active.job = self
        try:
            super().run(runtimeContext, tmpdir_lock)
        except BaseException as exn:
            task.crashed(exn)
            raise
        finally:
            _active.job = None

    def execute_command(
        self,
        commands: list[str],
        *,
        stdin_path: str | None,
        stdout_path: str | None,
        stderr_path: str | None,
        env: Mapping[str, str],
        cwd: str,
        timelimit: int | None,
    ) -> int:
        """Run the job's command through the executor and return its exit status.

        Standard output and error go to the files the tool names (``stdout:`` / ``stderr:``), otherwise to the
        task's ``<name>-<taskId>.stdout.txt`` / ``.stderr.txt``, which are followed into the task's log stream;
        the command line is added to the run's ``commands.jsonl``.

        Raises:
            OmicsdError: the executor could not run the command (the task's setup failure is recorded).
        """
        task = self.task
        assert task is not None
        ctx = task.ctx
        stdout = Path(stdout_path) if stdout_path else task.output_path("stdout")
        stderr = Path(stderr_path) if stderr_path else task.output_path("stderr")
        argv = [str(arg) for arg in commands]
        if stdin_path is not None:
            argv = ["/bin/sh", "-c", 'exec "$@" < "$0"', stdin_path, *argv]
        ctx.record_command(task, argv)
        capacity = ctx.executor.capacity()
        request = TaskRequest(
            name=task.name,
            command=argv,
            cwd=Path(cwd),
            stdout_path=stdout,
            stderr_path=stderr,
            env=dict(env),
            cpus=_clamp(task.cpus, capacity.get("cpus", 0)),
            memory_bytes=_clamp(task.memory_gib * GIB, capacity.get("memory_bytes", 0)),
            gpus=min(task.gpus, capacity.get("gpus", 0)),
            network=ctx.spec.network,
            pool=ctx.spec.pool,
            timeout_seconds=float(timelimit) if timelimit else None,
        )
        followed = [path for path, named in ((stdout, stdout_path), (stderr, stderr_path)) if not named]
        try:
            if ctx.follow_logs is not None:
                with ctx.follow_logs(task.task_id, followed):
                    result = self._run_request(task, request)
            else:
                result = self._run_request(task, request)
        except ValidationError as exn:
            task.setup_failure = ("INVALID_TASK_RESOURCE_VALUE", str(exn))
            raise
        except OmicsdError as exn:
            task.setup_failure = ("CANNOT_START_CONTAINER_ERROR", str(exn))
            raise
        task.result = result
        return result.exit_status

    # helpers

    def _run_request(self, task: Task, request: TaskRequest) -> TaskResult:
        ctx = task.ctx
        with ctx.gate.admitted(request.cpus, request.memory_bytes, request.gpus, ctx.should_cancel) as admitted:
            if not admitted:
                now = time.time()
                return TaskResult(exit_status=128 + signal.SIGTERM, start_time=now, end_time=now, cancelled=True)
            return ctx.executor.run(request, should_cancel=ctx.should_cancel, on_start=task.running)

    def _served_from_cache(self, task: Task, runtimeContext: RuntimeContext) -> bool:
        """Hand a cache entry's outputs to cwltool, as a finished job does; ``False``: the job must run."""
        cache = task.ctx.job_cache
        if cache is None or task.ctx.should_cancel():
            return False
        outputs = cache.serve(self, task)
        if outputs is None:
            return False
        lock = runtimeContext.workflow_eval_lock
        if lock is None:
            raise WorkflowException("runtimeContext.workflow_eval_lock must not be None")
        if self.output_callback is not None:
            with lock:
                self.output_callback(outputs, "success")
        return True

    def _observe(self, task: Task) -> None:
        """Wrap cwltool's output collection and settlement so the task learns how it ended."""
        settle = self.output_callback
        collect = self.collect_outputs

        def collect_outputs(outdir: str, rcode: int) -> Any:
            try:
                return collect(outdir, rcode)
            except Exception as exn:
                task.output_error = " ".join(str(exn).split()) or type(exn).__name__
                raise

        def output_callback(outputs: Any, process_status: str) -> None:
            cache = task.ctx.job_cache
            if cache is not None and process_status == "success" and isinstance(outputs, Mapping):
                cache.record(self, task, outputs)
            task.finish(process_status)
            if settle is not None:
                settle(outputs, process_status)

        self.collect_outputs = collect_outputs
        self.output_callback = output_callback


def _dispatch_popen(commands: list[str], **kwargs: Any) -> int:
    """Stands in for ``cwltool.job._job_popen``: a :class:`HostCommandLineJob`'s command goes to the executor."""
    job = getattr(_active, "job", None)
    if not isinstance(job, HostCommandLineJob):
        status: int = _engine_popen(commands, **kwargs)
        return status
    if kwargs.get("job_script_contents") is not None:
        raise WorkflowException("software requirement job scripts are not supported by omicsd")
    return job.execute_command(
        commands,
        stdin_path=kwargs.get("stdin_path"),
        stdout_path=kwargs.get("stdout_path"),
        stderr_path=kwargs.get("stderr_path"),
        env=kwargs.get("env") or {},
        cwd=str(kwargs["cwd"]),
        timelimit=kwargs.get("timelimit"),
    )


def _clamp(value: int, limit: int) -> int:
    return min(value, limit) if limit > 0 else value
