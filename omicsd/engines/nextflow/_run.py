"""One Nextflow run inside a driver process: from engine settings to the RunFinished event.

Owns: :class:`NextflowRun` (validates the engine settings and profiles, writes ``params.json`` and the
generated config, runs the ``nextflow`` launcher as a process group of its own, feeds the task tracker from
the weblog or the trace file, exports published files, turns failures into HealthOmics ``failureReason`` /
``statusMessage``).

Must not: parse the command line or write ``driver.pid`` (see :mod:`omicsd.engines.nextflow.driver`).

Where task events come from: with networking (VPC) or ``network_isolation = "none"`` Nextflow reaches the
driver's weblog endpoint on the loopback interface and tasks are journaled as they are submitted, start
and end; the trace file is read once at the end to fill any gap. A RESTRICTED run wraps the launcher in a
network namespace (the executor's isolation prefix), where the host's loopback is out of reach: the trace
file is then the only source, tailed while the run goes, and a task appears once it has finished.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import IO, Final

from omicsd.blobs import open_store
from omicsd.engines import _runlogs
from omicsd.engines._runkit import Outcome, report_run
from omicsd.engines._staging import StagingFailed
from omicsd.engines.events import (
    CANCELLED,
    COMPLETED,
    FAILED,
    Event,
    InputsStaged,
)
from omicsd.engines.nextflow import _launch
from omicsd.engines.nextflow._data import ParamsMapper, export_published, write_params
from omicsd.engines.nextflow._tasks import TaskTracker
from omicsd.engines.nextflow._trace import TraceFileReader
from omicsd.engines.nextflow._weblog import WeblogServer
from omicsd.engines.nextflow.settings import (
    EngineSettings,
    check_profiles,
    parse_engine_settings,
    parse_version_output,
    read_engine_settings,
)
from omicsd.engines.spec import RunSpec
from omicsd.errors import DefinitionError, OmicsdError, ValidationError
from omicsd.executors.isolation import network_prefix

logger = logging.getLogger(__name__)
console = logging.getLogger(__name__.rsplit(".", 1)[0] + ".console")

ENGINE_LOGGER: Final = "omicsd.engines.nextflow"
POLL_SECONDS: Final = 0.2
KILL_GRACE_SECONDS: Final = 10.0
VERSION_TIMEOUT_SECONDS: Final = 120.0
_CONSOLE_TAIL = 40


class _Stopped(Exception):
    """The run was cancelled or aborted."""


class NextflowRun:
    """A run in progress (see the module docstring)."""

    def __init__(
        self,
        spec: RunSpec,
        run_dir: Path,
        emit: Callable[[Event], None],
        *,
        executable: str | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        """Prepare the run (nothing runs yet).

        Args:
            spec: the run.
            run_dir: the run directory (absolute).
            emit: journals an event.
            executable: the ``nextflow`` launcher (default: found on ``PATH``).
            environ: the environment Nextflow's is built from (default: this process's).
        """
        self.spec = spec
        self.run_dir = run_dir
        self.emit = emit
        self.environ = dict(os.environ if environ is None else environ)
        self.executable = executable or _launch.find_executable(self.environ.get("PATH"))
        self.logs = _runlogs.RunLogs(spec)
        self.tracker = TaskTracker(emit, follow_logs=self.logs.follow_task)
        self.cancel_requested = threading.Event()
        self.abort_reason: tuple[str, str] | None = None
        self._console_tail: deque[str] = deque(maxlen=_CONSOLE_TAIL)

    def request_cancel(self) -> None:
        """Ask the run to stop (signal-handler safe: sets a flag only)."""
        self.cancel_requested.set()

    def stop_requested(self) -> bool:
        """True once the run is being cancelled or aborted."""
        return self.cancel_requested.is_set() or self.abort_reason is not None

    def execute(self) -> None:
        """Run to the end and journal RunOutputs (when COMPLETED) and RunFinished."""
        with self.logs.engine_log((ENGINE_LOGGER,)):
            definition = self._definition_dir()
            layout = _launch.Layout.of(self.run_dir, definition, self.spec.main)
            try:
                settings, problem = parse_engine_settings(read_engine_settings(self.spec, self.run_dir)), None
            except ValidationError as exn:
                settings, problem = EngineSettings(), exn
            env = _launch.environment(self.environ, self.spec, layout, settings)
            version = "" if problem else settings.engine_version or self._installed_version(env)

            def run() -> Outcome:
                if problem is not None:
                    reason = str(problem.details.get("failure_reason") or "WORKFLOW_RUN_FAILED")
                    return Outcome(FAILED, reason, f"ValidationException: {problem.message}")
                return self._run(layout, settings, env)

            outcome, storage_max = report_run(
                self.spec,
                self.run_dir,
                self.emit,
                engine_version=version,
                abort=self._abort,
                run=run,
                conclude=self._settle_tasks,
                log=logger,
            )
        self.emit(outcome.finished(time.time(), storage_max))

    def _settle_tasks(self, outcome: Outcome) -> None:
        """Tasks Nextflow left open end with the run: COMPLETED with it, else CANCELLED."""
        completed = outcome.status == COMPLETED
        self.tracker.settle(
            COMPLETED if completed else CANCELLED,
            "" if completed else "Task cancelled because the run stopped",
        )

    # the run, in the order it happens

    def _run(self, layout: _launch.Layout, settings: EngineSettings, env: dict[str, str]) -> Outcome:
        if self.executable is None:
            return Outcome(FAILED, "WORKFLOW_RUN_FAILED", _launch.NOT_INSTALLED_MESSAGE)
        try:
            self._check_profiles(layout, settings)
            prefix = () if self.spec.network else network_prefix(self.spec.executor.network_isolation)
            self._prepare(layout, settings, env)
            exit_status = self._nextflow(layout, settings, env, prefix)
            if self.stop_requested():
                raise _Stopped()
            if exit_status != 0:
                return self._failed(exit_status)
            store = open_store(root=Path(self.spec.buckets_root), s3_endpoint_url=self.spec.s3_endpoint_url)
            folders = {"pubdir": layout.pubdir, "output": layout.output_dir}
            outputs, outputs_uri = export_published(store, self.spec.run_output_uri, folders)
        except _Stopped:
            return self._stopped()
        except ValidationError as exn:
            return Outcome(FAILED, "WORKFLOW_RUN_FAILED", f"ValidationException: {exn.message}")
        except StagingFailed as exn:
            return self._stopped() if self.stop_requested() else Outcome(FAILED, exn.failure_reason, exn.message)
        except OmicsdError as exn:  # network isolation impossible
            return Outcome(FAILED, "SERVICE_ERROR", exn.message)
        except OSError as exn:
            return Outcome(FAILED, "WORKFLOW_RUN_FAILED", f"Could not start Nextflow: {exn}")
        return Outcome(COMPLETED, outputs=outputs, outputs_uri=outputs_uri)

    def _check_profiles(self, layout: _launch.Layout, settings: EngineSettings) -> None:
        if not settings.profiles:
            return
        from omicsd.engines.nextflow.inspect import NEXTFLOW_ENGINE

        try:
            declared = NEXTFLOW_ENGINE.inspect(layout.definition_dir, self.spec.main).profiles
        except DefinitionError as exn:
            logger.warning("profiles.unchecked: %s", exn.message)
            return
        check_profiles(settings.profiles, declared)

    def _prepare(self, layout: _launch.Layout, settings: EngineSettings, env: dict[str, str]) -> None:
        _launch.ensure_directories(layout, env)
        mounts = layout.mounts()
        for path in _launch.rewrite_mounts(layout.definition_dir, mounts):
            logger.info("definition.rewritten file=%s", path.relative_to(layout.definition_dir))
        local = None if self.spec.s3_endpoint_url else Path(self.spec.buckets_root)
        store = open_store(root=Path(self.spec.buckets_root), s3_endpoint_url=self.spec.s3_endpoint_url)
        mapper = ParamsMapper(store, layout.inputs_dir, local_buckets=local)
        params = mapper.map(_launch.rewrite_value(dict(self.spec.parameters), mounts))
        write_params(layout.params_file, params)
        self.emit(InputsStaged(time=time.time(), resource_digests=dict(mapper.resource_digests)))
        executor = self.spec.executor
        text = _launch.config_text(layout, run_id=self.spec.run_id, cpus=executor.cpus, memory_gib=executor.memory_gib)
        layout.config_file.write_text(text, encoding="utf-8")
        if self.stop_requested():
            raise _Stopped()

    def _nextflow(
        self, layout: _launch.Layout, settings: EngineSettings, env: dict[str, str], prefix: tuple[str, ...]
    ) -> int:
        assert self.executable is not None
        trace = TraceFileReader(layout.trace_file)
        with ExitStack() as stack:
            url = "" if prefix else stack.enter_context(WeblogServer(self.tracker.on_weblog)).url
            argv = _launch.command(self.executable, layout, profiles=settings.profiles, weblog_url=url, prefix=prefix)
            logger.info("nextflow.launch source=%s argv=%s", "weblog" if url else "trace", shlex.join(argv))
            process = subprocess.Popen(
                argv,
                cwd=layout.definition_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            assert process.stdout is not None
            pump = threading.Thread(
                target=self._pump, args=(process.stdout, layout.console_file), name="omicsd-nextflow-out", daemon=True
            )
            pump.start()
            exit_status = self._wait(process, None if url else trace)
            pump.join(timeout=5)
        self.tracker.on_trace(trace.read_new())  # the trace fills what the weblog missed
        logger.info("nextflow.exited status=%d", exit_status)
        return exit_status

    def _wait(self, process: subprocess.Popen[bytes], trace: TraceFileReader | None) -> int:
        """Wait for the launcher, tailing the trace and stopping the group on request; then reap it all."""
        signalled_at: float | None = None
        while not _exited(process.pid):
            if trace is not None:
                self.tracker.on_trace(trace.read_new())
            if self.stop_requested():
                now = time.monotonic()
                if signalled_at is None:
                    logger.info("nextflow.stopping pid=%d", process.pid)
                    _signal_group(process.pid, signal.SIGTERM)
                    signalled_at = now
                elif now - signalled_at > KILL_GRACE_SECONDS:
                    _signal_group(process.pid, signal.SIGKILL)
            time.sleep(POLL_SECONDS)
        _signal_group(process.pid, signal.SIGKILL)  # leftovers; the unreaped leader still holds the group id
        return process.wait()

    def _pump(self, stream: IO[bytes], path: Path) -> None:
        with open(path, "ab") as copy:
            for raw in iter(stream.readline, b""):
                copy.write(raw)
                copy.flush()
                line = raw.decode("utf-8", errors="replace").rstrip()
                if not line:
                    continue
                self._console_tail.append(line)
                level = logging.ERROR if line.startswith("ERROR") else logging.INFO
                console.log(level, "%s", line)
        stream.close()

    # endings

    def _failed(self, exit_status: int) -> Outcome:
        failure = self.tracker.failure()
        if failure is not None and not failure.handled:
            return Outcome(FAILED, failure.failure_reason, failure.status_message)
        if self.tracker.workflow_error:
            return Outcome(FAILED, "WORKFLOW_RUN_FAILED", f"Nextflow failed: {self.tracker.workflow_error}")
        if failure is not None:
            return Outcome(FAILED, failure.failure_reason, failure.status_message)
        lines = list(self._console_tail)
        errors = [line for line in lines if line.startswith("ERROR")] or lines[-5:]
        detail = ": " + " | ".join(errors) if errors else "; see the engine log stream"
        return Outcome(FAILED, "WORKFLOW_RUN_FAILED", f"Nextflow exited with status {exit_status}{detail}")

    def _abort(self, reason: str, message: str) -> None:
        """Stop the run from outside Nextflow (storage exceeded); the run loop notices ``abort_reason``."""
        self.abort_reason = (reason, message)
        logger.error("run.aborting reason=%s", reason)

    def _stopped(self) -> Outcome:
        if self.abort_reason is not None:
            return Outcome(FAILED, *self.abort_reason)
        return Outcome(CANCELLED, status_message="Run cancelled")

    # helpers

    def _definition_dir(self) -> Path:
        """The definition the run may change: the spec's when it lies in the run directory, else a copy."""
        source = Path(self.spec.definition_dir).resolve()
        if source.is_relative_to(self.run_dir):
            return source
        target = self.run_dir / "definition"
        if not target.exists():
            shutil.copytree(source, target, symlinks=True)
        return target

    def _installed_version(self, env: dict[str, str]) -> str:
        if self.executable is None:
            return ""
        try:
            done = subprocess.run(
                [self.executable, "-version"],
                cwd=self.run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=VERSION_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exn:
            logger.warning("nextflow.version_unknown: %s", exn)
            return ""
        version = parse_version_output(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))
        if version is None:
            logger.warning("nextflow.version_unknown exit=%d", done.returncode)
        return version or ""


def _exited(pid: int) -> bool:
    """Whether the child ``pid`` has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
