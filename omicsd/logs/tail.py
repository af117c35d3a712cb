"""Following a task's stdout/stderr files into its log stream while it runs.

Owns: :class:`FileFollower` (one thread per task, polling file sizes, copying complete new lines as events,
splitting lines longer than CloudWatch's event limit, flushing the last partial line at the end) and
:func:`follow_into_stream`, the same as a blocking loop.
Must not: read the files from the start again after a restart (a follower lives as long as its task) or
decide stream names (:mod:`omicsd.logs.streams`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from omicsd.logs.files import LogWriter

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 - 26
"""CloudWatch's largest event (256 KiB) minus its 26 bytes of per-event overhead."""

_READ_LIMIT = 4 << 20


class FileFollower:
    """Copies lines appended to ``paths`` into one stream, every ``interval`` seconds and at :meth:`stop`."""

    def __init__(
        self,
        paths: Sequence[Path],
        writer: LogWriter,
        group: str,
        stream: str,
        *,
        interval: float = 0.5,
    ) -> None:
        """Follow ``paths`` (files that may not exist yet) into ``group``/``stream``."""
        self.paths = [Path(p) for p in paths]
        self.writer = writer
        self.group = group
        self.stream = stream
        self.interval = interval
        self._offsets = [0] * len(self.paths)
        self._partial = [b""] * len(self.paths)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> int:
        """Copy the complete lines appended since the last poll; returns how many events were written."""
        with self._lock:
            messages: list[str] = []
            for index in range(len(self.paths)):
                messages.extend(self._new_lines(index))
            return self.writer.append(self.group, self.stream, messages) if messages else 0

    def flush(self) -> int:
        """Poll, then also write each file's last line that has no newline yet."""
        written = self.poll()
        with self._lock:
            messages: list[str] = []
            for index, partial in enumerate(self._partial):
                if partial:
                    messages.extend(_split(partial))
                    self._offsets[index] += len(partial)
                    self._partial[index] = b""
            return written + (self.writer.append(self.group, self.stream, messages) if messages else 0)

    def start(self) -> FileFollower:
        """Start following in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name=f"omicsd-follow-{self.stream}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and flush everything the files hold."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def __enter__(self) -> FileFollower:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # keep following: a failed poll is retried at the next interval
                logger.exception("logs.follow_failed stream=%s", self.stream)

    def _new_lines(self, index: int) -> list[str]:
        path = self.paths[index]
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return []
        consumed = self._offsets[index] + len(self._partial[index])
        if size < consumed:
            logger.info("logs.follow_truncated path=%s", path)
            self._offsets[index], self._partial[index] = 0, b""
            consumed = 0
        if size == consumed:
            return []
        with open(path, "rb") as handle:
            handle.seek(consumed)
            data = self._partial[index] + handle.read(min(size - consumed, _READ_LIMIT))
        *lines, rest = data.split(b"\n")
        messages = [m for line in lines for m in _split(line.removesuffix(b"\r"))]
        if len(rest) > MAX_MESSAGE_BYTES:
            head = rest[: len(rest) - len(rest) % MAX_MESSAGE_BYTES]
            messages.extend(_split(head))
            rest = rest[len(head) :]
        self._offsets[index] += len(data) - len(rest)
        self._partial[index] = rest
        return messages


def follow_into_stream(
    path: Path, writer: LogWriter, group: str, stream: str, stop: threading.Event, interval: float = 0.5
) -> None:
    """Copy lines appended to ``path`` into the stream until ``stop`` is set, then flush (blocking)."""
    follower = FileFollower([path], writer, group, stream, interval=interval)
    while not stop.wait(interval):
        follower.poll()
    follower.flush()


def _split(line: bytes) -> list[str]:
    """A line as one or more messages of at most :data:`MAX_MESSAGE_BYTES` bytes."""
    if len(line) <= MAX_MESSAGE_BYTES:
        return [line.decode("utf-8", "replace")]
    return [line[i : i + MAX_MESSAGE_BYTES].decode("utf-8", "replace") for i in range(0, len(line), MAX_MESSAGE_BYTES)]
