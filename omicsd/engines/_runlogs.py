"""Where a driver's logs go: the engine log stream and one stream per task attempt.

Owns: :class:`RunLogs` (the run's :class:`~omicsd.logs.files.LogWriter`, the engine log handler attached
to the engine's loggers, and task stdout/stderr followers), honouring the run's ``logLevel``. One thread
polls every running task's files (a thread per task would cost more than most scatter tasks run); each
task's last lines are copied synchronously when its attempt ends.

Must not: name streams (:mod:`omicsd.logs.streams` does) or know a workflow language.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from omicsd.engines._enginelog import StreamLogHandler, engine_log_level
from omicsd.engines.spec import RunSpec
from omicsd.logs.files import LogWriter
from omicsd.logs.streams import LOG_GROUP, engine_stream, task_stream
from omicsd.logs.tail import FileFollower

logger = logging.getLogger(__name__)


class RunLogs:
    """The log sinks of one run."""

    def __init__(self, spec: RunSpec, *, follow_interval: float = 0.5) -> None:
        """Prepare the sinks of ``spec``'s run (nothing is written yet).

        Args:
            spec: the run (``logs_root``, ``run_id``, ``log_level``).
            follow_interval: seconds between copies of a running task's new output lines.
        """
        self.spec = spec
        self.writer = LogWriter(Path(spec.logs_root))
        self.level = engine_log_level(spec.log_level)
        self.follow_interval = follow_interval
        self._followers: set[FileFollower] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None

    @contextmanager
    def engine_log(self, logger_names: Sequence[str]) -> Iterator[None]:
        """Ship records of ``logger_names`` (and their children) to ``run/<id>/engine`` while open.

        With logLevel OFF nothing is shipped and the loggers only pass warnings to the run directory's
        own log files. Handlers an engine installed on its own loggers (cwltool writes every record to stderr,
        which is the run directory's ``driver.log``) keep only warnings and errors while records are shipped:
        the stream has the rest, and formatting and writing every job's lines twice costs the run time.
        """
        loggers = [logging.getLogger(name) for name in logger_names]
        saved = [(lg, lg.level, lg.propagate) for lg in loggers]
        handler: StreamLogHandler | None = None
        if self.level is not None:
            stream = engine_stream(self.spec.run_id)
            handler = StreamLogHandler(
                lambda batch: self.writer.append(LOG_GROUP, stream, [(int(t * 1000), m) for t, m in batch]),
                level=self.level,
            )
        own = [(h, h.level) for lg in loggers for h in lg.handlers] if handler is not None else []
        for h, level in own:
            h.setLevel(max(level, logging.WARNING))
        for lg in loggers:
            lg.setLevel(self.level if self.level is not None else logging.WARNING)
            lg.propagate = False
            if handler is not None:
                lg.addHandler(handler)
        try:
            yield
        finally:
            for lg, level, propagate in saved:
                if handler is not None:
                    lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate
            for h, level in own:
                h.setLevel(level)
            if handler is not None:
                handler.close()

    @contextmanager
    def follow_task(self, task_id: str, files: Sequence[Path]) -> Iterator[object]:
        """Copy lines appended to ``files`` into ``run/<id>/task/<task_id>`` while open (and all at the end).

        The stream is created up front, so a task that prints nothing still has one.
        """
        stream = task_stream(self.spec.run_id, task_id)
        self.writer.create_stream(LOG_GROUP, stream)
        follower = FileFollower(files, self.writer, LOG_GROUP, stream, interval=self.follow_interval)
        with self._lock:
            self._followers.add(follower)
            if self._pump is None:
                self._pump = threading.Thread(target=self._poll_loop, name="omicsd-task-logs", daemon=True)
                self._pump.start()
        try:
            yield follower
        finally:
            with self._lock:
                self._followers.discard(follower)
            try:
                follower.flush()
            except Exception:
                logger.exception("logs.task_flush_failed stream=%s", stream)

    def close(self) -> None:
        """Stop the task-log poller (running followers still flush when their tasks end)."""
        self._stop.set()
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.join()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.follow_interval):
            with self._lock:
                followers = list(self._followers)
            for follower in followers:
                try:
                    follower.poll()
                except Exception:
                    logger.exception("logs.task_poll_failed stream=%s", follower.stream)
