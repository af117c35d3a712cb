"""The engine log stream: a logging handler that ships an engine's log records to ``run/<id>/engine``.

Owns: :class:`StreamLogHandler` (batches records and appends them to one log stream from a small
flusher thread, so logging never waits on the log store) and :func:`engine_log_level` (HealthOmics
``logLevel`` → :mod:`logging` level).

Must not: decide what an engine logs; the driver attaches the handler to the engine's loggers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger(__name__)

#: HealthOmics ``logLevel`` → the lowest level shipped (``None``: nothing is shipped).
_LEVELS: dict[str, int | None] = {
    "OFF": None,
    "FATAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "ALL": logging.INFO,
}

Appender = Callable[[Sequence[tuple[float, str]]], Any]
"""Appends ``(epoch seconds, message)`` pairs to one stream."""


def engine_log_level(log_level: str) -> int | None:
    """The :mod:`logging` level for a run's ``logLevel`` (``None`` for OFF)."""
    return _LEVELS.get(log_level.upper(), logging.INFO)


class StreamLogHandler(logging.Handler):
    """Buffers formatted records and appends them to a stream in batches."""

    def __init__(self, append: Appender, *, level: int = logging.INFO, flush_interval: float = 0.2) -> None:
        """Create the handler and start its flusher thread.

        Args:
            append: writes a batch of ``(time, message)`` pairs to the stream.
            level: lowest level handled.
            flush_interval: seconds between flushes.
        """
        super().__init__(level)
        self._append = append
        self._pending: list[tuple[float, str]] = []
        self._buffer_lock = threading.Lock()
        self._flush_interval = flush_interval
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="omicsd-enginelog", daemon=True)
        self._thread.start()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Queue one record."""
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        with self._buffer_lock:
            self._pending.append((record.created, line))

    def flush(self) -> None:
        """Append everything queued so far."""
        with self._buffer_lock:
            batch, self._pending = self._pending, []
        if batch:
            try:
                self._append(batch)
            except Exception:
                logger.debug("enginelog.append_failed", exc_info=True)

    def close(self) -> None:
        """Stop the flusher and append what is left."""
        self._closed.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
        super().close()

    def _loop(self) -> None:
        while not self._closed.wait(self._flush_interval):
            self.flush()
