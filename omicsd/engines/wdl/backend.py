"""miniwdl container backend ``omicsd_local``: every task attempt goes to omicsd's executor.

Owns: :class:`LocalTaskContainer`, registered through the entry point
``miniwdl.plugin.container_backend: omicsd_local``. Paths in task commands are host paths (the
"container" directory *is* the task's host directory); inputs are symlinked into
``work/_miniwdl_inputs/`` as miniwdl lays them out; the command is written to ``<task dir>/command`` and
run by bash in the attempt's work directory. Each attempt is a new HealthOmics task: the backend emits
TaskCreated, TaskStarting, TaskRunning and TaskFinished for it (a successful attempt's TaskFinished is
held until the observer sees the task's outputs, see :mod:`omicsd.engines.wdl.observer`).

Must not: decide capacity (the executor does) or be used outside an omicsd driver (it raises).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from WDL import Error, Type, Value
from WDL._util import parse_byte_size
from WDL.runtime import config
from WDL.runtime.task_container import TaskContainer

from omicsd.engines._resources import GIB, Requested
from omicsd.engines.events import CANCELLED, FAILED, TaskCreated, TaskMetrics, TaskRunning, TaskStarting
from omicsd.engines.wdl import _context
from omicsd.errors import OmicsdError, ValidationError
from omicsd.executors.base import TaskRequest, TaskResult

logger = logging.getLogger(__name__)


class TaskSetupFailed(Error.RuntimeError):
    """A task attempt could not be started; carries the HealthOmics failure reason."""

    def __init__(self, failure_reason: str, message: str) -> None:
        super().__init__(message)
        self.failure_reason = failure_reason


class LocalTaskContainer(TaskContainer):
    """Runs each task attempt through the driver's executor (see the module docstring)."""

    @classmethod
    def global_init(cls, cfg: config.Loader, logger: logging.Logger) -> None:
        """Nothing to initialize: the driver built the executor."""

    @classmethod
    def detect_resource_limits(cls, cfg: config.Loader, logger: logging.Logger) -> dict[str, int]:
        """The executor's capacity; miniwdl clamps its own view of cpu and memory to it."""
        capacity = _require_context().executor.capacity()
        return {"cpu": int(capacity["cpus"]), "mem_bytes": int(capacity["memory_bytes"])}

    def __init__(self, cfg: config.Loader, run_id: str, host_dir: str) -> None:
        super().__init__(cfg, run_id, host_dir)
        self.container_dir = host_dir
        self.requested = Requested()
        """The task's runtime requests as written (before miniwdl clamps them to the host)."""
        self._memory_factor = 1
        self._host_paths: dict[tuple[str, bool, int], str | None] = {}

    def process_runtime(self, logger: logging.Logger, runtime_eval: dict[str, Value.Base]) -> None:
        """Capture the raw requests (cpu, memory, gpu, accelerators, image), then let miniwdl validate."""
        self.requested = _requested(runtime_eval)
        super().process_runtime(logger, runtime_eval)

    def host_path(self, container_path: str, inputs_only: bool = False) -> str | None:
        """A path the task names, as a host path (miniwdl's mapping), remembered until the command runs.

        miniwdl maps every output file twice (to check it, then to bind it), and each mapping resolves the
        path and the working directory through every symlink; nothing in the task directory changes between
        two commands, so the answers (not the errors) are kept until the next attempt starts or ends.
        """
        key = (container_path, inputs_only, self.try_counter)
        if key not in self._host_paths:
            self._host_paths[key] = super().host_path(container_path, inputs_only)
        return self._host_paths[key]

    def _run(self, logger: logging.Logger, terminating: Callable[[], bool], command: str) -> int:
        self._host_paths.clear()  # the command is about to change the working directory
        try:
            return self._attempt(logger, terminating, command)
        finally:
            self._host_paths.clear()

    def _attempt(self, logger: logging.Logger, terminating: Callable[[], bool], command: str) -> int:
        ctx = _require_context()
        name = ctx.task_name(self.host_dir, self.run_id)
        task_id = ctx.new_task_id()
        requested = self.requested.scaled_memory(self._memory_factor)
        try:
            sized = requested.sized()
        except ValidationError as exn:
            cpus, memory_gib, gpus = _rounded(requested)
            ctx.emit(_created(task_id, name, cpus, memory_gib, gpus, "", requested.image))
            raise self._setup_failed(ctx, task_id, name, "INVALID_TASK_RESOURCE_VALUE", exn.message) from exn
        created = _created(
            task_id, name, sized.cpus, sized.memory_gib, sized.gpus, sized.instance_type, requested.image
        )
        ctx.note_attempt(self.host_dir, created)
        ctx.emit(created)

        def on_start(at: float) -> None:
            ctx.emit(TaskRunning(task_id=task_id, time=at))

        def should_cancel() -> bool:
            return terminating() or ctx.stop_requested()

        try:  # from here on the task exists: every way out emits its TaskFinished
            request = self._request(ctx, name, command, sized.cpus, sized.memory_gib, sized.gpus)
            ctx.emit(TaskStarting(task_id=task_id, time=time.time()))
            if ctx.follow_logs is not None:
                with ctx.follow_logs(task_id, (request.stdout_path, request.stderr_path)):
                    result = ctx.executor.run(request, should_cancel=should_cancel, on_start=on_start)
            else:
                result = ctx.executor.run(request, should_cancel=should_cancel, on_start=on_start)
        except ValidationError as exn:
            raise self._setup_failed(ctx, task_id, name, "INVALID_TASK_RESOURCE_VALUE", exn.message) from exn
        except OmicsdError as exn:
            raise self._setup_failed(ctx, task_id, name, "CANNOT_START_CONTAINER_ERROR", exn.message) from exn
        except Exception as exn:
            logger.exception("task.start_failed name=%s task_id=%s", name, task_id)
            raise self._setup_failed(ctx, task_id, name, "SERVICE_ERROR", f"{type(exn).__name__}: {exn}") from exn
        self._report(ctx, task_id, name, result)
        return result.exit_status

    # helpers, in the order _run uses them

    def _request(
        self, ctx: _context.DriverContext, name: str, command: str, cpus: int, memory_gib: int, gpus: int
    ) -> TaskRequest:
        work = Path(self.host_work_dir())  # type: ignore[no-untyped-call]
        for host_path, container_path in self.input_path_map.items():
            link = Path(self.host_work_path(container_path).rstrip("/"))
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(host_path.rstrip("/"))
        script = os.path.join(self.host_dir, "command")
        _write_file(script, command.encode())
        capacity = ctx.executor.capacity()
        env = {str(k): str(v) for k, v in (self.runtime_values.get("env") or {}).items()}
        return TaskRequest(
            name=name,
            command=[self.cfg["task_runtime"]["command_shell"] or "/bin/bash", script],
            cwd=work,
            stdout_path=Path(self.host_stdout_txt()),  # type: ignore[no-untyped-call]
            stderr_path=Path(self.host_stderr_txt()),  # type: ignore[no-untyped-call]
            env=env,
            cpus=_clamp(cpus, capacity.get("cpus", 0)),
            memory_bytes=_clamp(memory_gib * GIB, capacity.get("memory_bytes", 0)),
            gpus=min(gpus, capacity.get("gpus", 0)),
            network=ctx.spec.network,
            pool=ctx.spec.pool,
        )

    def _report(self, ctx: _context.DriverContext, task_id: str, name: str, result: TaskResult) -> None:
        metrics = TaskMetrics(
            cpus_max=round(result.max_cpus, 3),
            cpus_avg=round(result.avg_cpus, 3),
            memory_max_gib=round(result.max_memory_bytes / GIB, 4),
            memory_avg_gib=round(result.avg_memory_bytes / GIB, 4),
            running_seconds=round(max(0.0, result.end_time - result.start_time), 3),
        )
        status = result.exit_status
        outcome = _context.TaskOutcome(task_id, name, status, result.end_time, metrics=metrics)
        if result.cancelled:
            ctx.emit(outcome.finished(CANCELLED, status_message="Task cancelled"))
        elif self.success_exit_code(status):
            ctx.defer(self.host_dir, outcome)
        else:
            if result.oom_killed or status == 137:
                self._memory_factor *= 2  # HealthOmics doubles the memory of an OOM retry
                reason = "OUT_OF_MEMORY_ERROR"
                message = f"Task {name} ran out of memory (exit status {status})"
            elif result.timed_out:
                reason, message = "TASK_TIMED_OUT", f"Task {name} timed out"
            else:
                reason, message = "RUN_TASK_FAILED", f"Task {name} failed with exit status {status}"
            failed = _context.TaskOutcome(task_id, name, status, result.end_time, reason, message, metrics)
            ctx.record_failure(self.host_dir, failed)
            ctx.emit(failed.finished(FAILED))

    def _setup_failed(
        self, ctx: _context.DriverContext, task_id: str, name: str, reason: str, detail: str
    ) -> TaskSetupFailed:
        message = f"Task {name} could not start: {detail}"
        outcome = _context.TaskOutcome(task_id, name, None, time.time(), reason, message)
        ctx.record_failure(self.host_dir, outcome)
        ctx.emit(outcome.finished(FAILED))
        return TaskSetupFailed(reason, message)


def _require_context() -> _context.DriverContext:
    ctx = _context.current()
    if ctx is None:
        raise Error.RuntimeError(
            "the omicsd_local container backend runs only inside an omicsd run driver "
            "(python -m omicsd.engines.wdl.driver)"
        )
    return ctx


def _created(
    task_id: str, name: str, cpus: int, memory_gib: int, gpus: int, instance_type: str, image: str
) -> TaskCreated:
    return TaskCreated(
        task_id=task_id,
        name=name,
        cpus=cpus,
        memory_gib=memory_gib,
        gpus=gpus,
        instance_type=instance_type,
        image=image,
        time=time.time(),
    )


def _rounded(requested: Requested) -> tuple[int, int, int]:
    """Best-effort integers for a request that cannot be sized (for the TaskCreated of a failing task)."""
    try:
        return requested.normalized()
    except ValidationError:
        return max(1, math.ceil(requested.cpus)), max(1, math.ceil(requested.memory_bytes / GIB)), requested.gpus


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _clamp(value: int, limit: int) -> int:
    return min(value, limit) if limit > 0 else value


def _requested(runtime_eval: dict[str, Value.Base]) -> Requested:
    """Raw resource requests of a task's evaluated ``runtime`` section."""
    cpus = 1.0
    memory_bytes = GIB
    gpus = 0
    accelerator_type = ""
    image = ""
    if "cpu" in runtime_eval:
        try:
            cpus = float(runtime_eval["cpu"].coerce(Type.Float()).value)
        except Exception:
            logger.debug("runtime.cpu_unreadable", exc_info=True)
    if "memory" in runtime_eval:
        try:
            memory_bytes = parse_byte_size(str(runtime_eval["memory"].coerce(Type.String()).value))
        except Exception:
            logger.debug("runtime.memory_unreadable", exc_info=True)
    gpu = runtime_eval.get("gpu")
    if isinstance(gpu, Value.Boolean) and gpu.value:
        gpus = 1
    if "acceleratorType" in runtime_eval:
        accelerator_type = str(_string(runtime_eval["acceleratorType"]))
        gpus = max(gpus, 1)
    if "acceleratorCount" in runtime_eval:
        try:
            gpus = int(runtime_eval["acceleratorCount"].coerce(Type.Int()).value)
        except Exception:
            logger.debug("runtime.accelerator_count_unreadable", exc_info=True)
    for key in ("container", "docker"):
        if key in runtime_eval:
            image = _string(runtime_eval[key])
            break
    return Requested(cpus, memory_bytes, gpus, accelerator_type, image)


def _string(value: Value.Base) -> str:
    if isinstance(value, Value.Array):
        return _string(value.value[0]) if value.value else ""
    if isinstance(value, Value.Null):
        return ""
    text: Any = value.coerce(Type.String()).value
    return str(text)
