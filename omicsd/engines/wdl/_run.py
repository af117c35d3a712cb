"""One WDL run inside a driver process: from staged inputs to the RunFinished event.

Owns: :class:`WdlRun` (builds the executor, the log sinks and the :class:`DriverContext`, opens the run
cache, runs miniwdl with omicsd's call cache, exports outputs and then cache entries, turns failures into
HealthOmics ``failureReason`` / ``statusMessage``).

Must not: parse the command line or write ``driver.pid`` (see :mod:`omicsd.engines.wdl.driver`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path
from typing import Any

import WDL.runtime
from WDL import Env, Tree, Value
from WDL._util import TerminationSignalFlag
from WDL.runtime.error import RunFailed

from omicsd.blobs import ObjectStore, open_store
from omicsd.engines import _runlogs
from omicsd.engines._cache import RunCache
from omicsd.engines._runkit import Outcome, new_executor, report_run
from omicsd.engines._staging import InputStager, StagingFailed, export_outputs
from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    Event,
    InputsStaged,
)
from omicsd.engines.spec import RunSpec
from omicsd.engines.wdl import _context
from omicsd.engines.wdl._config import memoized_plugin_lookups, miniwdl_config
from omicsd.engines.wdl._lean import lean_run
from omicsd.engines.wdl._stdlib import lazy_task_stdlibs
from omicsd.engines.wdl._values import (
    WorkflowError,
    load_executable,
    neutral_outputs,
    parse_inputs,
    stage_inputs,
)
from omicsd.engines.wdl.cache import OmicsdCallCache, tracking_calls

logger = logging.getLogger(__name__)

WDL_DIR = "wdl"
INPUTS_DIR = "inputs"


class _Stopped(Exception):
    """The run was cancelled or aborted while the driver (not miniwdl) was working."""


class WdlRun:
    """A run in progress (see the module docstring)."""

    def __init__(
        self,
        spec: RunSpec,
        run_dir: Path,
        emit: Callable[[Event], None],
        *,
        cancel_requested: threading.Event | None = None,
    ) -> None:
        """Prepare the run: executor, log sinks and the plugins' context (nothing runs yet).

        Args:
            spec: the run.
            run_dir: the run directory (absolute).
            emit: journals an event.
            cancel_requested: set (by a signal handler) when the run must be cancelled.
        """
        self.spec = spec
        self.run_dir = run_dir
        self.emit = emit
        executor = new_executor(spec, run_dir)
        self.logs = _runlogs.RunLogs(spec)
        self.ctx = _context.DriverContext(
            spec,
            emit=emit,
            executor=executor,
            wdl_root=run_dir / WDL_DIR,
            follow_logs=self.logs.follow_task,
            cancel_requested=cancel_requested,
        )

    def request_cancel(self) -> None:
        """Ask the run to stop (signal-handler safe: sets a flag only)."""
        self.ctx.cancel_requested.set()

    def enter_signal_handling(self, stack: ExitStack) -> Callable[[], bool]:
        """Install miniwdl's termination handlers for the whole run; returns its ``terminating()``."""
        terminating: Callable[[], bool] = stack.enter_context(TerminationSignalFlag(logging.getLogger("wdl")))
        return terminating

    def execute(self, terminating: Callable[[], bool]) -> None:
        """Run to the end and journal RunOutputs (when COMPLETED) and RunFinished."""
        with ExitStack() as stack:
            stack.enter_context(self.logs.engine_log(("wdl", "omicsd")))
            stack.callback(self.logs.close)
            stack.enter_context(_context.activate(self.ctx))
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
            exe = load_executable(self.spec.main_path)
            inputs = parse_inputs(exe, dict(self.spec.parameters))
            stager = InputStager(store, self.run_dir / INPUTS_DIR)
            inputs = stage_inputs(inputs, lambda uri, is_dir: self._stage(stager, uri, is_dir))
            self.emit(InputsStaged(time=time.time(), resource_digests=dict(stager.resource_digests)))
            if self.ctx.stop_requested():
                raise _Stopped()
            self._open_cache(store)
            outputs = self._miniwdl(exe, inputs)
            if self.ctx.stop_requested():
                raise _Stopped()
            summary, outputs_uri = export_outputs(store, self.spec.run_output_uri, exe.name, neutral_outputs(outputs))
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

    def _miniwdl(self, exe: Tree.Workflow | Tree.Task, inputs: Env.Bindings[Value.Base]) -> Any:
        capacity = self.ctx.executor.capacity()
        # every task reserves at least one CPU, so cpus + 2 threads keep the executor saturated while
        # miniwdl prepares the next attempts; more threads would only wait on the capacity ledger
        concurrency = min(256, int(capacity.get("cpus", 1)) + 2)
        cfg = miniwdl_config(self.run_dir, task_concurrency=concurrency)
        with (
            memoized_plugin_lookups(),
            lean_run(keep_log_files=self.logs.level is None),
            lazy_task_stdlibs(),
            tracking_calls(),
            OmicsdCallCache(cfg, logging.getLogger("wdl")) as call_cache,
        ):
            run_dir = str(self.run_dir / WDL_DIR) + "/."  # "/.": use this directory itself
            _, outputs = WDL.runtime.run(cfg, exe, inputs, run_dir=run_dir, _cache=call_cache)  # type: ignore[arg-type]
        return outputs

    def _open_cache(self, store: ObjectStore) -> None:
        """Open the run's run cache and index its entries (a cache that cannot be read only costs misses)."""
        try:
            cache = RunCache.open(self.spec, store, self.run_dir, writer=self.logs.writer)
            if cache is not None:
                cache.load()
        except Exception:
            logger.warning("cache.open_failed", exc_info=True)
            return
        self.ctx.run_cache = cache

    def _conclude(self, outcome: Outcome) -> None:
        """Journal the tasks miniwdl left open, then the export phase (:meth:`_export_cache`)."""
        self.ctx.settle_all()
        self._export_cache(outcome)

    def _export_cache(self, outcome: Outcome) -> None:
        """The export phase: completed tasks become cache entries when the cache behavior says so."""
        if self.ctx.run_cache is None:
            return
        try:
            self.ctx.run_cache.export(outcome.status, outcome.failure_reason)
        except Exception:
            logger.warning("cache.export_crashed", exc_info=True)

    def _stopped(self) -> Outcome:
        if self.ctx.abort_reason is not None:
            return Outcome(FAILED, *self.ctx.abort_reason)
        return Outcome(CANCELLED, status_message="Run cancelled")

    def _classify(self, exn: BaseException) -> Outcome:
        """failureReason and statusMessage of a run that miniwdl ended with ``exn``."""
        if self.ctx.stop_requested():
            return self._stopped()
        task_dir = ""
        chain = list(_chain(exn))
        for cause in chain:
            reason = getattr(cause, "failure_reason", None)
            if isinstance(reason, str) and reason:
                return Outcome(FAILED, reason, str(cause))
            if isinstance(cause, RunFailed) and isinstance(cause.exe, Tree.Task):
                task_dir = cause.run_dir
                failure = self.ctx.failure(task_dir)
                if failure is not None and failure.failure_reason:
                    return Outcome(FAILED, failure.failure_reason, failure.status_message)
        root = chain[-1]
        detail = f"{type(root).__name__}: {root}" if str(root) else type(root).__name__
        if task_dir:
            name = self.ctx.task_name(task_dir, Path(task_dir).name)
            return Outcome(FAILED, "WORKFLOW_RUN_FAILED", f"Task {name} failed: {detail}")
        return Outcome(FAILED, "WORKFLOW_RUN_FAILED", detail)


def _chain(exn: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exn
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _engine_version() -> str:
    try:
        return f"miniwdl {metadata.version('miniwdl')}"
    except metadata.PackageNotFoundError:
        return "miniwdl"
