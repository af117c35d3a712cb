"""Engine-driver processes: start one per run in its own session, tell whether it lives, signal it.

Owns: :class:`Driver` (a handle that survives a server restart: pid plus the process start time, so a reused
pid is never mistaken for the driver) and :func:`launch`. A driver is started with ``start_new_session`` so
Ctrl-C or ``kill -9`` of the server does not take it down; after a restart the scheduler re-attaches to it
through the pid and start time stored with the run.
Must not: read journals or write the database (the loop does, through services).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from omicsd.scheduler.forkserver import ForkServer, ForkServerUnavailable

logger = logging.getLogger(__name__)

DRIVER_MODULES = {
    "WDL": "omicsd.engines.wdl.driver",
    "WDL_LENIENT": "omicsd.engines.wdl.driver",
    "CWL": "omicsd.engines.cwl.driver",
    "NEXTFLOW": "omicsd.engines.nextflow.driver",
}


TASK_EVENTS_BATCH = 0.2
"""Seconds task events may wait in a journal before the loop reads it (events of the run itself never wait)."""
_TYPE_KEY = b'"type":"'
_NOT_A_TASK_EVENT = re.compile(rb'"type":"(?!task\.)')


@dataclass
class Driver:
    """A running (or finished) engine driver."""

    run_id: str
    pid: int
    start: str
    """Process start time (``/proc/<pid>/stat`` field 22), to tell a reused pid from the driver."""
    process: subprocess.Popen[bytes] | None = None
    """Set when this server started the driver (it must reap it); ``None`` after re-attaching."""
    signalled_at: float | None = None
    """When a cancel was sent (SIGTERM), for escalation."""
    exit_status: int | None = field(default=None)
    journal: Path | None = None
    """The run's journal; its size tells the loop whether there is anything new to read."""
    seen_size: int = -1
    """Journal size at the last read."""
    read_at: float = 0.0
    """When the loop last read the journal (monotonic seconds)."""
    scanned: int = 0
    """Journal offset up to which unread lines were searched for a run-level event."""
    forkserver: ForkServer | None = None
    """Set when this server's fork server forked the driver (it reaps it and knows its exit status)."""

    def journal_grew(self) -> bool:
        """Whether the loop should read the journal now (a ``stat``, and a small read of new lines; no database).

        It should when the journal has unread bytes and either they hold a run-level event (run started,
        inputs staged, outputs, run finished: read at once) or the last read is :data:`TASK_EVENTS_BATCH`
        seconds old. Task events alone are left to gather, so a scatter's hundreds of events are applied in a
        few transactions rather than one per tick.
        """
        if self.journal is None:
            return True
        try:
            size = self.journal.stat().st_size
        except FileNotFoundError:
            return False
        if size == self.seen_size:
            return False
        now = time.monotonic()
        if now - self.read_at < TASK_EVENTS_BATCH and not self._run_event_in(size):
            return False
        self.seen_size, self.read_at, self.scanned = size, now, size
        return True

    def _run_event_in(self, size: int) -> bool:
        """Whether the bytes appended since the last search hold an event that is not a task's."""
        assert self.journal is not None
        start = max(0, self.scanned - len(_TYPE_KEY))  # a type key may straddle the last search's end
        try:
            with open(self.journal, "rb") as handle:
                handle.seek(start)
                data = handle.read(size - start)
        except OSError:
            return True
        self.scanned = start + len(data)
        return _NOT_A_TASK_EVENT.search(data) is not None

    def alive(self) -> bool:
        """Whether the driver process still runs."""
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return True
            self.exit_status = code
            return False
        if process_start(self.pid) == self.start:
            return True
        if self.forkserver is not None and self.exit_status is None:
            self.exit_status = self.forkserver.exit_status(self.pid)
        return False

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the driver if it still runs."""
        if self.alive():
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


def launch(run_id: str, engine: str, run_dir: Path, forkserver: ForkServer | None = None) -> Driver:
    """Start the driver of ``engine`` for the run prepared in ``run_dir``.

    With a ``forkserver``, the driver is forked from its warm helper; when the helper cannot (gone, not ready,
    engine not preloaded), the driver starts as a new interpreter (``python -m <driver>``) as without one.

    Raises:
        OSError: the process could not be started.
        KeyError: no driver exists for ``engine``.
    """
    module = DRIVER_MODULES[engine]
    if forkserver is not None:
        try:
            pid = forkserver.launch(module, run_dir)
        except ForkServerUnavailable as exn:
            logger.warning("driver.forkserver_unavailable run=%s: %s", run_id, exn.message)
        else:
            logger.info("driver.started run=%s pid=%d engine=%s forked=true", run_id, pid, engine)
            return Driver(run_id=run_id, pid=pid, start=process_start(pid) or "", forkserver=forkserver)
    log = open(run_dir / "driver.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(run_dir)],
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        log.close()
    start = process_start(process.pid) or ""
    logger.info("driver.started run=%s pid=%d engine=%s", run_id, process.pid, engine)
    return Driver(run_id=run_id, pid=process.pid, start=start, process=process)


def attach(run_id: str, pid: int | None, start: str | None) -> Driver | None:
    """A handle on a driver started by an earlier server process, or ``None`` if it is gone."""
    if not pid or not start or process_start(pid) != start:
        return None
    return Driver(run_id=run_id, pid=pid, start=start)


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot, or ``None`` if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


def kill_leftovers(run_dir: Path) -> int:
    """Kill every process group still working inside ``run_dir`` (tasks orphaned by a dead driver).

    Task commands run in their own process groups with their working directory inside the run directory, so
    ``/proc/<pid>/cwd`` finds them even though their driver, which would have stopped them, is gone.

    Returns:
        How many process groups were killed.
    """
    root = str(run_dir.resolve())
    groups: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
            if cwd == root or cwd.startswith(root + os.sep):
                groups.add(os.getpgid(int(entry.name)))
        except OSError:
            continue
    groups.discard(os.getpgrp())
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            continue
    if groups:
        logger.warning("run.leftovers_killed dir=%s groups=%d", root, len(groups))
    return len(groups)


def terminate(driver: Driver) -> None:
    """Ask a driver to cancel its run (SIGTERM; the driver stops its tasks and journals CANCELLED)."""
    driver.signal(signal.SIGTERM)


def kill(driver: Driver) -> None:
    """Stop a driver that did not react to SIGTERM."""
    driver.signal(signal.SIGKILL)
