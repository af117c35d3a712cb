"""One CWL run inside a driver process: from staged inputs to the RunFinished event.

Owns: :class:`CwlRun` (builds the executor, the log sinks and the :class:`RunContext`; loads the definition;
turns the parameters into a staged job order; opens the run cache; runs cwltool with :class:`TaskJobExecutor`;
exports the outputs and then the cache entries; turns failures into HealthOmics ``failureReason`` /
``statusMessage``).

Run directory layout: ``inputs/`` (staged inputs), ``cwl/out/<n>/`` (each job's output directory, the
command's working directory), ``cwl/tmp/<n>/`` (each job's ``$TMPDIR``, and its staging directory when it stages
inputs; see :mod:`omicsd.engines.cwl._runtime`), ``cwl/tasks/`` (the commands run, and each task's
``<name>-<taskId>.stdout.txt`` / ``.stderr.txt``; see :mod:`omicsd.engines.cwl._tasks`). Nothing is deleted:
the run directory is the record of what ran, as with the WDL driver.

Must not: parse the command line or write ``driver.pid`` (see :mod:`omicsd.engines.cwl.driver`).
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from schema_salad.sourceline import strip_dup_lineno

from omicsd.blobs import ObjectStore, open_store
from omicsd.engines import _runlogs
from omicsd.engines._cache import RunCache
from omicsd.engines._runkit import Outcome, new_executor, report_run
from omicsd.engines._staging import InputStager, StagingFailed
from omicsd.engines.cwl._executor import TaskJobExecutor
from omicsd.engines.cwl._lean import freeze_long_lived, lean_process
from omicsd.engines.cwl._load import WorkflowError, host_javascript, load_process, relative_message
from omicsd.engines.cwl._runtime import runtime_context
from omicsd.engines.cwl._tasks import RunContext
from omicsd.engines.cwl._values import JobOrder, export_cwl_outputs, output_namespace
from omicsd.engines.cwl.cache import JobCache
from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    Event,
    InputsStaged,
)
from omicsd.engines.spec import RunSpec

logger = logging.getLogger(__name__)

CWL_DIR = "cwl"
INPUTS_DIR = "inputs"
ENGINE_LOGGERS = ("cwltool", "salad", "omicsd")
PREPARED_JOBS = 2
"""Worker threads beyond the executor's CPUs: jobs staged and waiting for capacity while the others run."""
_JS_ERROR = re.compile(r"^\s*[A-Za-z]*Error: .*$", re.MULTILINE)


class _Stopped(Exception):
    """The run was cancelled or aborted while the driver (not cwltool) was working."""


class _EngineFailed(Exception):
    """cwltool finished without success and without raising."""


class CwlRun:
    """A run in progress (see the module docstring)."""

    def __init__(self, spec: RunSpec, run_dir: Path, emit: Callable[[Event], None]) -> None:
        """Prepare the run: executor, log sinks and the task context (nothing runs yet).

        Args:
            spec: the run.
            run_dir: the run directory (absolute).
            emit: journals an event.
        """
        self.spec = spec
        self.run_dir = run_dir
        self.emit = emit
        self.cwl_root = run_dir / CWL_DIR
        executor = new_executor(spec, run_dir)
        self.logs = _runlogs.RunLogs(spec)
        self.ctx = RunContext(
            spec, emit=emit, executor=executor, tasks_root=self.cwl_root / "tasks", follow_logs=self.logs.follow_task
        )
        self.engine_problems = _FirstProblem()

    def request_cancel(self) -> None:
        """Ask the run to stop (signal-handler safe: sets a flag only)."""
        self.ctx.cancel_requested.set()

    def execute(self) -> None:
        """Run to the end and journal RunOutputs (when COMPLETED) and RunFinished."""
        with ExitStack() as stack:
            stack.enter_context(lean_process())
            stack.enter_context(self.logs.engine_log(ENGINE_LOGGERS))
            stack.callback(self.logs.close)
            stack.callback(self.ctx.close)
            stack.enter_context(host_javascript())
            outcome, storage_max = report_run(
                self.spec,
                self.run_dir,
                self.emit,
                engine_version=_engine_version(),
                abort=self.ctx.abort,
                run=self._run,
                conclude=self._conclude,
                log=logger,
            )
        self.emit(outcome.finished(time.time(), storage_max))

    # the run, in the order it happens

    def _run(self) -> Outcome:
        store = open_store(root=Path(self.spec.buckets_root), s3_endpoint_url=self.spec.s3_endpoint_url)
        try:
            process = load_process(Path(self.spec.definition_dir), self.spec.main)
            stager = InputStager(store, self.run_dir / INPUTS_DIR)
            order = JobOrder(process, lambda uri, is_dir: self._stage(stager, uri, is_dir), store.exists)
            job_order = order.build(self.spec.parameters)
            self.emit(InputsStaged(time=time.time(), resource_digests=dict(stager.resource_digests)))
            if self.ctx.stop_requested():
                raise _Stopped()
            self._open_cache(store)
            outputs = self._cwltool(process, job_order)
            if self.ctx.stop_requested():
                raise _Stopped()
            summary, outputs_uri = export_cwl_outputs(
                store, self.spec.run_output_uri, output_namespace(process), outputs, self.cwl_root / "literals"
            )
        except _Stopped:
            return self._stopped()
        except WorkflowError as exn:
            return Outcome(FAILED, "WORKFLOW_RUN_FAILED", str(exn))
        except StagingFailed as exn:
            if self.ctx.stop_requested():
                return self._stopped()
            return Outcome(FAILED, exn.failure_reason, exn.message)
        except Exception as exn:
            return self._classify(exn)
        return Outcome(COMPLETED, outputs=summary, outputs_uri=outputs_uri)

    def _stage(self, stager: InputStager, uri: str, is_directory: bool) -> str:
        if self.ctx.stop_requested():
            raise _Stopped()
        return stager.stage(uri, directory=is_directory)

    def _cwltool(self, process: Any, job_order: dict[str, Any]) -> Any:
        from cwltool.main import init_job_order  # delay heavy import

        (self.cwl_root / "tasks").mkdir(parents=True, exist_ok=True)
        # a bare tool's task name: its id, or its file's stem
        runtime = runtime_context(self.cwl_root, basedir=self.run_dir / INPUTS_DIR, name=output_namespace(process))
        args = argparse.Namespace(workflow=self.spec.main, job_order=[], tool_help=False)
        try:
            job = init_job_order(
                job_order,
                args,
                process,
                process.doc_loader,
                io.StringIO(),
                input_basedir=runtime.basedir,
                secret_store=runtime.secret_store,
                runtime_context=runtime,
            )
        except (Exception, SystemExit) as exn:
            raise WorkflowError(f"invalid run parameters: {exn}") from exn
        capacity = self.ctx.executor.capacity()
        # the running commands, and as many jobs prepared to follow them: more threads would only wait for capacity
        threads = min(256, int(capacity.get("cpus", 1)) + PREPARED_JOBS)
        executor = TaskJobExecutor(self.ctx, threads=threads)
        freeze_long_lived()  # the engine, the document and the job order outlive the run's jobs
        engine_logger = logging.getLogger("cwltool")
        with _watching(engine_logger, self.engine_problems):
            outputs, status = executor(process, job, runtime, logger=engine_logger)
        if status != "success" or outputs is None:
            raise _EngineFailed(status)
        return outputs

    def _open_cache(self, store: ObjectStore) -> None:
        """Open the run's run cache and index its entries (a cache that cannot be read only costs misses)."""
        try:
            cache = RunCache.open(self.spec, store, self.run_dir, writer=self.logs.writer)
            if cache is None:
                return
            cache.load()
        except Exception:
            logger.warning("cache.open_failed", exc_info=True)
            return
        self.ctx.job_cache = JobCache(cache, Path(self.spec.definition_dir))

    def _conclude(self, outcome: Outcome) -> None:
        """Journal the tasks cwltool left open, then the export phase (:meth:`_export_cache`)."""
        self.ctx.settle_all()
        self._export_cache(outcome)

    def _export_cache(self, outcome: Outcome) -> None:
        """The export phase: completed tasks become cache entries when the cache behavior says so."""
        if self.ctx.job_cache is None:
            return
        try:
            self.ctx.job_cache.cache.export(outcome.status, outcome.failure_reason)
        except Exception:
            logger.warning("cache.export_crashed", exc_info=True)

    def _stopped(self) -> Outcome:
        if self.ctx.abort_reason is not None:
            return Outcome(FAILED, *self.ctx.abort_reason)
        return Outcome(CANCELLED, status_message="Run cancelled")

    def _classify(self, exn: BaseException) -> Outcome:
        """failureReason and statusMessage of a run that cwltool ended with ``exn``."""
        if self.ctx.stop_requested():
            return self._stopped()
        failure = self.ctx.failure
        if failure is not None:
            return Outcome(FAILED, failure.failure_reason, failure.status_message)
        if isinstance(exn, _EngineFailed):
            detail = self.engine_problems.first or f"the workflow ended with status {exn}"
        else:
            text = str(exn).strip()
            detail = text if text else type(exn).__name__
            logger.info("run.engine_error", exc_info=exn)
        message = strip_dup_lineno(relative_message(Path(self.spec.definition_dir), _condense_javascript(detail)))
        return Outcome(FAILED, "WORKFLOW_RUN_FAILED", message)


class _FirstProblem(logging.Handler):
    """Keeps cwltool's first error (else warning) message: the reason of a failure it only logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.error = ""
        self.warning = ""

    @property
    def first(self) -> str:
        """The first error message, else the first warning message, else empty."""
        return self.error or self.warning

    def emit(self, record: logging.LogRecord) -> None:
        """Remember ``record`` if it is the first of its level."""
        if self.error if record.levelno >= logging.ERROR else self.warning:
            return
        try:
            text = record.getMessage().strip()
        except Exception:
            return
        if record.levelno >= logging.ERROR:
            self.error = text
        else:
            self.warning = text


@contextmanager
def _watching(target: logging.Logger, handler: logging.Handler) -> Iterator[None]:
    target.addHandler(handler)
    try:
        yield
    finally:
        target.removeHandler(handler)


def _condense_javascript(message: str) -> str:
    """A JavaScript evaluation error without the script and stack cwl-utils quote: the error line instead."""
    head, found, rest = message.partition("\nscript was:\n")
    if not found:
        return message
    error = _JS_ERROR.search(rest.partition("\nstderr was:")[2])
    lines = [line for line in head.splitlines() if not line.startswith("Expecting value:")]
    if error is not None:
        lines.append(error.group(0).strip())
    return "\n".join(lines)


def _engine_version() -> str:
    try:
        return f"cwltool {metadata.version('cwltool')}"
    except metadata.PackageNotFoundError:
        return "cwltool"
