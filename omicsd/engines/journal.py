"""The run's event journal: an append-only JSON-lines file in the run directory.

Owns: :class:`JournalWriter` (the driver side) and :func:`read_events` (the supervisor side), plus
the journal's file name.

Must not: interpret events (see :mod:`omicsd.engines.events`) or touch the database.

The writer appends each event with a single ``os.write`` on an ``O_APPEND`` descriptor, so a reader
that tails the file sees whole lines or a torn last line, never interleaved ones. There is no user
space buffering: a line is visible to the supervisor as soon as :meth:`JournalWriter.write` returns.
The file is fsynced only when the writer is closed at the end of the run.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from types import TracebackType

from omicsd.engines.events import Event, EventDecodeError, decode, encode

logger = logging.getLogger(__name__)

#: File name of the journal inside a run directory.
JOURNAL_FILE = "events.jsonl"


def journal_path(run_dir: str | os.PathLike[str]) -> Path:
    """Where the journal of the run in ``run_dir`` lives."""
    return Path(run_dir) / JOURNAL_FILE


class JournalWriter:
    """Appends events to a journal file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (or create) the journal for appending.

        Args:
            path: the journal file; its directory must exist.
        """
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._lock = threading.Lock()

    def write(self, event: Event) -> None:
        """Append one event as one line.

        Raises:
            ValueError: the writer is closed.
        """
        data = encode(event)
        with self._lock:
            if self._fd is None:
                raise ValueError(f"journal {self.path} is closed")
            view = memoryview(data)
            while view:  # a regular file takes the whole line in one write; loop for safety only
                written = os.write(self._fd, view)
                view = view[written:]

    def close(self, *, sync: bool = True) -> None:
        """Flush the journal to disk (unless ``sync`` is false) and close it; idempotent."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_events(path: str | os.PathLike[str], offset: int = 0) -> tuple[list[Event], int]:
    """Read the complete events appended after ``offset``.

    A torn last line (no newline yet) is left for a later call. A complete line that is not a known
    event is logged and skipped, so one bad line cannot wedge the reader.

    Args:
        path: the journal file; a missing file reads as empty.
        offset: byte offset returned by the previous call (0 at first).

    Returns:
        The events, and the offset just past the last complete line consumed.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events: list[Event] = []
    for line in data[:end].split(b"\n"):
        if not line.strip():
            continue
        try:
            events.append(decode(line))
        except EventDecodeError as exn:
            logger.warning("journal.bad_line path=%s error=%s", path, exn)
    return events, offset + end + 1
