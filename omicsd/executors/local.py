"""The ``local`` executor: task commands as process groups on this host.

Owns: running one task attempt as a new session (its own process group) in its working directory with a
minimal environment, waiting for it without adding latency (a pidfd), cancel / timeout (SIGTERM to the
group, SIGKILL after a grace period), the memory limit (through :class:`ProcessMonitor`), tearing down
every process the command left behind (as a container's end would), and the attempt's metrics.
Must not: decide how many resources a task gets (the engine does) or account for them itself (the
:class:`~omicsd.executors.capacity.CapacityLedger` does, across processes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from omicsd.executors import _proc
from omicsd.executors._monitor import ProcessMonitor, Watch
from omicsd.executors._tmpdirs import TmpDirs
from omicsd.executors.base import TaskRequest, TaskResult
from omicsd.executors.capacity import CapacityLedger, Reservation
from omicsd.executors.isolation import NO_ISOLATION, NetworkIsolation, network_isolation

logger = logging.getLogger(__name__)

HOST_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
"""Host variables a task inherits; everything else comes from :attr:`TaskRequest.env`."""

_CANCEL_POLL = 0.05
_TEARDOWN_LIMIT = 5.0


class LocalExecutor:
    """Runs task commands on this host, within the machine capacity shared through a ledger."""

    name = "local"

    def __init__(
        self,
        ledger: CapacityLedger,
        *,
        network_isolation: str = "auto",
        kill_grace: float = 2.0,
        sample_interval: float = 0.25,
        tmp_root: Path | None = None,
    ) -> None:
        """Create an executor.

        Args:
            ledger: The machine-wide capacity ledger.
            network_isolation: How ``network=False`` requests lose the network (see
                :mod:`omicsd.executors.isolation`).
            kill_grace: Seconds between SIGTERM and SIGKILL on cancel or timeout.
            sample_interval: Seconds between CPU/memory samples (and memory-limit checks).
            tmp_root: Where the ``TMPDIR`` of a request that names none comes from: reusable directories
                under it (see :mod:`omicsd.executors._tmpdirs`). ``None``: a ``.tmp`` directory in the request's
                working directory, removed when the attempt ends.
        """
        self.ledger = ledger
        self.network_isolation = network_isolation
        self.kill_grace = kill_grace
        self.monitor = ProcessMonitor(sample_interval)
        self.tmpdirs = TmpDirs(tmp_root) if tmp_root is not None else None

    def capacity(self) -> Mapping[str, int]:
        """The machine capacity this executor hands out."""
        total = self.ledger.total
        return {"cpus": total.cpus, "memory_bytes": total.memory_bytes, "gpus": total.gpus}

    def run(
        self,
        request: TaskRequest,
        *,
        should_cancel: Callable[[], bool] = lambda: False,
        on_start: Callable[[float], None] | None = None,
    ) -> TaskResult:
        """Wait for capacity, run the command to completion and release the capacity.

        A task cancelled while it waits for capacity never starts: the result has ``cancelled`` set, exit
        status 143 and ``start_time == end_time``, and ``on_start`` is not called.

        Raises:
            omicsd.errors.ValidationError: the request can never fit this machine or its pool.
            omicsd.executors.isolation.NetworkIsolationError: ``network=False`` but isolation is impossible.
        """
        isolation = NO_ISOLATION if request.network else network_isolation(self.network_isolation)
        self.ledger.check_fits(request.cpus, request.memory_bytes, request.gpus, request.pool)
        workspace = _Workspace.prepare(request, self.tmpdirs)  # files and TMPDIR are ready before capacity is held
        try:
            reservation = self.ledger.acquire(
                request.cpus, request.memory_bytes, request.gpus, request.pool, should_cancel=should_cancel
            )
            if reservation is None:
                now = time.time()
                logger.info("task.cancelled_before_start name=%s", request.name)
                return TaskResult(exit_status=128 + signal.SIGTERM, start_time=now, end_time=now, cancelled=True)
            try:
                return self._run_reserved(request, reservation, workspace, isolation, should_cancel, on_start)
            finally:
                self.ledger.release(reservation)
        finally:
            workspace.close()  # the TMPDIR is emptied once the capacity is free again

    def _run_reserved(
        self,
        request: TaskRequest,
        reservation: Reservation,
        workspace: _Workspace,
        isolation: NetworkIsolation,
        should_cancel: Callable[[], bool],
        on_start: Callable[[float], None] | None,
    ) -> TaskResult:
        env = workspace.env_for(request, reservation)
        start_time = time.time()
        try:
            process = _spawn_isolated(workspace, request, isolation, env)
        except OSError as exc:
            _note_spawn_failure(request, exc)
            status = 126 if isinstance(exc, PermissionError) else 127
            return TaskResult(exit_status=status, start_time=start_time, end_time=time.time())
        logger.debug("task.started name=%s pid=%d cpus=%d", request.name, process.pid, request.cpus)
        watch = self.monitor.watch(process.pid, request.memory_bytes)
        try:
            if on_start is not None:
                try:
                    on_start(start_time)
                except Exception:
                    logger.exception("task.on_start_failed name=%s", request.name)
            cancelled, timed_out = self._wait(process, request, should_cancel)
        finally:
            _teardown(watch)
            self.monitor.unwatch(watch)
            _, status, rusage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        result = _result(process.returncode, start_time, time.time(), watch, rusage, cancelled, timed_out)
        clean = result.exit_status == 0 and not (cancelled or timed_out or result.oom_killed)
        logger.log(
            logging.DEBUG if clean else logging.INFO,
            "task.exited name=%s exit_status=%d cancelled=%s timed_out=%s oom=%s",
            request.name,
            result.exit_status,
            cancelled,
            timed_out,
            result.oom_killed,
        )
        return result

    def _wait(
        self, process: subprocess.Popen[bytes], request: TaskRequest, should_cancel: Callable[[], bool]
    ) -> tuple[bool, bool]:
        """Wait until the leader exits (left unreaped); returns ``(cancelled, timed_out)``."""
        waiter = _ExitWaiter(process.pid)
        deadline = None if request.timeout_seconds is None else time.monotonic() + request.timeout_seconds
        cancelled = timed_out = False
        kill_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                wait = _CANCEL_POLL
                if deadline is not None and not (cancelled or timed_out):
                    wait = min(wait, deadline - now)
                if kill_at is not None:
                    wait = min(wait, kill_at - now)
                if waiter.wait(max(0.0, wait)):
                    return cancelled, timed_out
                now = time.monotonic()
                if kill_at is None and should_cancel():
                    cancelled = True
                elif kill_at is None and deadline is not None and now >= deadline:
                    timed_out = True
                if kill_at is None and (cancelled or timed_out):
                    reason = "cancel" if cancelled else "timeout"
                    logger.info("task.terminating name=%s reason=%s", request.name, reason)
                    _signal_group(process.pid, signal.SIGTERM)
                    kill_at = now + self.kill_grace
                elif kill_at is not None and now >= kill_at:
                    _signal_group(process.pid, signal.SIGKILL)
                    kill_at = float("inf")
        finally:
            waiter.close()


class _ExitWaiter:
    """Waits for a child to exit without reaping it: a pidfd when the kernel has them, else polling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._poller: select.poll | None = None
        self._fd: int | None = None
        self._delay = 0.001
        try:
            self._fd = os.pidfd_open(pid)
            self._poller = select.poll()
            self._poller.register(self._fd, select.POLLIN)
        except (AttributeError, OSError):
            self._fd = None

    def wait(self, timeout: float) -> bool:
        if self._poller is not None:
            return bool(self._poller.poll(timeout * 1000))
        end = time.monotonic() + timeout
        while True:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None and info.si_pid == self.pid:
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self._delay, left))
            self._delay = min(self._delay * 2, 0.05)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class _Workspace:
    """What a task attempt needs before it starts: its environment, TMPDIR and open output files."""

    env: dict[str, str]
    own_tmp: Path | None
    """The TMPDIR created for the task (``None`` when the request named one or it came from a pool)."""
    pooled_tmp: tuple[TmpDirs, Path] | None = None
    """The pool and the TMPDIR taken from it, given back on :meth:`close`."""
    files: list[int] = field(default_factory=list)
    """stdin (``/dev/null``), and stdout and stderr opened for appending."""

    @classmethod
    def prepare(cls, request: TaskRequest, tmpdirs: TmpDirs | None = None) -> _Workspace:
        """Build the environment, provide the TMPDIR and open the output files."""
        env = {key: os.environ[key] for key in HOST_ENV_KEYS if key in os.environ}
        env.setdefault("PATH", os.defpath)
        env.setdefault("LANG", "C.UTF-8")
        env["HOME"] = str(request.cwd)
        workspace = cls(env, None)
        try:
            if "TMPDIR" in request.env:
                Path(request.env["TMPDIR"]).mkdir(parents=True, exist_ok=True)
            elif tmpdirs is not None:
                tmp = tmpdirs.take()
                workspace.pooled_tmp = (tmpdirs, tmp)
                env["TMPDIR"] = str(tmp)
            else:
                workspace.own_tmp = request.cwd / ".tmp"
                workspace.own_tmp.mkdir(parents=True, exist_ok=True)
                env["TMPDIR"] = str(workspace.own_tmp)
            env.update(request.env)
            workspace.files.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            for path in (request.stdout_path, request.stderr_path):
                workspace.files.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666))
        except BaseException:
            workspace.close()
            raise
        return workspace

    def env_for(self, request: TaskRequest, reservation: Reservation) -> dict[str, str]:
        """The environment with the reservation's GPUs (unless the request sets those variables itself)."""
        if not reservation.gpu_ids:
            return self.env
        devices = ",".join(map(str, reservation.gpu_ids))
        gpus = {key: devices for key in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES") if key not in request.env}
        return {**self.env, **gpus}

    def spawn(self, request: TaskRequest, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start the command in a new session with the prepared files as its standard streams."""
        stdin, stdout, stderr = self.files
        return subprocess.Popen(
            argv,
            cwd=request.cwd,
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            close_fds=True,
        )

    def close(self) -> None:
        """Close the files and remove (or empty and give back) the TMPDIR omicsd provided."""
        files, self.files = self.files, []
        for fd in files:
            os.close(fd)
        _remove_tmp(self.own_tmp)
        pooled, self.pooled_tmp = self.pooled_tmp, None
        if pooled is not None:
            pooled[0].give_back(pooled[1])


def _spawn_isolated(
    workspace: _Workspace, request: TaskRequest, isolation: NetworkIsolation, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start the command isolated as ``isolation`` says.

    A command started by a thread that then could not leave the namespace is killed before the error goes up
    (nothing would wait for it).
    """
    process: subprocess.Popen[bytes] | None = None
    try:
        with isolation.spawning():
            process = workspace.spawn(request, isolation.argv(request.command), env)
    except BaseException:
        if process is not None:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        raise
    return process


def _note_spawn_failure(request: TaskRequest, exc: OSError) -> None:
    logger.warning("task.spawn_failed name=%s error=%s", request.name, exc)
    with contextlib.suppress(OSError), open(request.stderr_path, "a") as stderr:
        stderr.write(f"omicsd: cannot run {request.command[0] if request.command else '(empty)'}: {exc}\n")


def _signal_group(leader: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)


def _teardown(watch: Watch) -> None:
    """SIGKILL every process of the task until none is left (the unreaped leader keeps its ids reserved)."""
    deadline = time.monotonic() + _TEARDOWN_LIMIT
    delay = 0.001
    while True:
        _signal_group(watch.leader, signal.SIGKILL)
        members = watch.members(_candidates(watch))
        if not members:
            return
        for member in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member.pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            logger.warning("task.teardown_incomplete leader=%d left=%s", watch.leader, [m.pid for m in members])
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _candidates(watch: Watch) -> list[_proc.ProcStat]:
    """Processes that may belong to the task: its family, or every process while pids may have cycled.

    Every process of a task descends from its leader and so got a pid after the leader's; asking only those
    costs a system call each that never blocks, instead of reading every process on the machine.
    """
    if time.monotonic() - watch.started < _proc.pid_cycle_seconds():
        stats = _proc.family_after(watch.leader, watch.known)
        if stats is not None:
            return stats
    return list(_proc.iter_stats())


def _remove_tmp(path: Path | None) -> None:
    """Remove the TMPDIR omicsd created: usually empty, so one ``rmdir`` before a full tree walk."""
    if path is None:
        return
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def _result(
    returncode: int,
    start_time: float,
    end_time: float,
    watch: Watch,
    rusage: resource.struct_rusage,
    cancelled: bool,
    timed_out: bool,
) -> TaskResult:
    exit_status = 128 - returncode if returncode < 0 else returncode
    if watch.oom_killed:
        exit_status = 128 + signal.SIGKILL
    wall = max(end_time - start_time, 1e-6)
    ru_cpu = rusage.ru_utime + rusage.ru_stime
    cpu_seconds = max(ru_cpu, watch.max_ticks / _proc.CLOCK_TICKS)
    avg_cpus = cpu_seconds / wall
    return TaskResult(
        exit_status=exit_status,
        start_time=start_time,
        end_time=end_time,
        oom_killed=watch.oom_killed,
        cancelled=cancelled,
        timed_out=timed_out,
        cpu_seconds=cpu_seconds,
        max_cpus=max(watch.max_cpus, avg_cpus),
        avg_cpus=avg_cpus,
        max_memory_bytes=watch.max_rss,
        avg_memory_bytes=watch.rss_sum // watch.samples if watch.samples else 0,
    )
