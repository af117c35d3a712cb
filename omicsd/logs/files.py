"""CloudWatch-Logs-like streams as append-only files: a writer and a paged reader.

Owns: :class:`LogWriter` (appends events; one ``O_APPEND`` write per batch so processes appending to the
same stream never interleave within a line) and :class:`LogReader` (lists groups and streams with their
CloudWatch metadata, and reads pages of events forward or backward from a byte offset, which a protocol
layer wraps into ``f/…``/``b/…`` tokens). See :mod:`omicsd.logs._layout` for the file format.
Must not: know HTTP or tokens, or what a run or task is (:mod:`omicsd.logs.streams` names streams).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from omicsd.errors import NotFoundError
from omicsd.logs import _layout, _lines

MAX_WRITE = 1 << 20
"""Largest single ``write`` of a batch; a larger batch is written in line-aligned pieces."""


@dataclass(frozen=True)
class LogEvent:
    """One event as stored."""

    timestamp: int
    """When it happened, in ms since the epoch."""
    ingestion_time: int
    """When it was stored, in ms since the epoch."""
    message: str


@dataclass(frozen=True)
class EventPage:
    """One page of :meth:`LogReader.read`."""

    events: tuple[LogEvent, ...]
    """In chronological (file) order, for both directions."""
    next_forward: int
    """Offset to pass with ``forward=True`` to read the events after this page."""
    next_backward: int
    """Offset to pass with ``forward=False`` to read the events before this page."""


@dataclass(frozen=True)
class StreamInfo:
    """A stream as DescribeLogStreams reports it."""

    name: str
    creation_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    stored_bytes: int


class LogWriter:
    """Appends events to streams under ``root``; safe across threads and processes."""

    def __init__(self, root: Path) -> None:
        """Write under ``root`` (``<data_dir>/logs``), created on first use."""
        self.root = Path(root)

    def create_stream(self, group: str, stream: str) -> None:
        """Create an empty stream (a no-op when it exists)."""
        _layout.ensure_stream(self.root, group, stream)

    def append(self, group: str, stream: str, messages: Iterable[str | tuple[int, str]]) -> int:
        """Append events, creating the stream on first use; returns how many were written.

        Args:
            group: The log group (``/aws/omics/WorkflowLog``).
            stream: The stream name (``run/1234567/task/7654321``).
            messages: Each a message (stamped now) or ``(timestamp_ms, message)``.
        """
        ingestion = _layout.now_ms()
        lines = [
            _layout.event_line(ingestion, ingestion, item)
            if isinstance(item, str)
            else _layout.event_line(int(item[0]), ingestion, item[1])
            for item in messages
        ]
        if not lines:
            return 0
        path = _layout.ensure_stream(self.root, group, stream)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            for chunk in _chunks(lines):
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
        finally:
            os.close(fd)
        return len(lines)


class LogReader:
    """Reads streams under ``root``; every page costs O(page), whatever the stream's size."""

    def __init__(self, root: Path) -> None:
        """Read under ``root`` (``<data_dir>/logs``)."""
        self.root = Path(root)

    def list_groups(self) -> list[str]:
        """Every log group that has a stream, sorted."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(_layout.unescape(n) for n in names if not n.startswith(".") and (self.root / n).is_dir())

    def exists(self, group: str, stream: str) -> bool:
        """Whether the stream exists."""
        return _layout.stream_path(self.root, group, stream).is_file()

    def list_streams(self, group: str, prefix: str | None = None) -> list[StreamInfo]:
        """The streams of ``group`` whose names start with ``prefix``, sorted by name.

        Raises:
            NotFoundError: the group does not exist.
        """
        base = _layout.group_dir(self.root, group)
        if not base.is_dir():
            raise NotFoundError(f"The specified log group does not exist: {group}.")
        *complete, partial = (prefix or "").split("/")
        directory = base.joinpath(*(_layout.escape(s) for s in complete))
        names = sorted(_walk(directory, "".join(s + "/" for s in complete), partial))
        infos = []
        for name in names:
            try:
                infos.append(self.stream_info(group, name))
            except NotFoundError:
                continue
        return infos

    def stream_info(self, group: str, stream: str) -> StreamInfo:
        """Metadata of one stream, from its header, first line and last line.

        Raises:
            NotFoundError: the stream does not exist.
        """
        path = _layout.stream_path(self.root, group, stream)
        with _open(path, stream) as handle:
            size = os.fstat(handle.fileno()).st_size
            end = _lines.complete_end(handle, size)
            header_end, creation = _header(handle, end)
            first = next((_layout.parse_line(line) for _, _, line in _lines.forward(handle, header_end, end)), None)
            last = next((_layout.parse_line(line) for _, _, line in _lines.backward(handle, header_end, end)), None)
        return StreamInfo(
            name=stream,
            creation_ms=creation,
            first_event_ms=_int(first, "timestamp"),
            last_event_ms=_int(last, "timestamp"),
            last_ingestion_ms=_int(last, "ingestionTime"),
            stored_bytes=size,
        )

    def read(
        self,
        group: str,
        stream: str,
        *,
        offset: int | None = None,
        limit: int = 10_000,
        start_time: int | None = None,
        end_time: int | None = None,
        forward: bool = True,
        max_bytes: int = 1 << 20,
    ) -> EventPage:
        """One page of events.

        Args:
            group: The log group.
            stream: The stream name.
            offset: Where to continue: a ``next_forward``/``next_backward`` of an earlier page. ``None``
                starts at the head (``forward=True``) or the tail (``forward=False``), moved by
                ``start_time``/``end_time`` with a binary search.
            limit: Most events in the page.
            start_time: Only events with ``timestamp >= start_time`` (ms).
            end_time: Only events with ``timestamp <= end_time`` (ms).
            forward: Read the events after ``offset`` (True) or the ones before it (False).
            max_bytes: Stop once the page's messages reach this many bytes (CloudWatch's 1 MB).

        Raises:
            NotFoundError: the stream does not exist.
        """
        path = _layout.stream_path(self.root, group, stream)
        with _open(path, stream) as handle:
            end = _lines.complete_end(handle, os.fstat(handle.fileno()).st_size)
            header_end, _ = _header(handle, end)
            if forward:
                if offset is None:
                    offset = header_end
                    if start_time is not None:
                        offset = _lines.seek_time(handle, header_end, end, start_time)
                return _read_forward(
                    handle, min(max(offset, header_end), end), end, limit, start_time, end_time, max_bytes
                )
            if offset is None:
                offset = end
                if end_time is not None:
                    offset = _lines.seek_time(handle, header_end, end, end_time + 1)
            return _read_backward(
                handle, header_end, min(max(offset, header_end), end), limit, start_time, end_time, max_bytes
            )


def _read_forward(
    handle: BinaryIO, start: int, end: int, limit: int, start_time: int | None, end_time: int | None, max_bytes: int
) -> EventPage:
    events: list[LogEvent] = []
    size = 0
    first: int | None = None
    position = start
    for line_start, line_end, line in _lines.forward(handle, start, end):
        event = _event(line)
        if event is not None and end_time is not None and event.timestamp > end_time:
            break
        position = line_end
        if event is None or (start_time is not None and event.timestamp < start_time):
            continue
        events.append(event)
        first = line_start if first is None else first
        size += len(event.message.encode()) + 26
        if len(events) >= limit or size >= max_bytes:
            break
    return EventPage(tuple(events), next_forward=position, next_backward=start if first is None else first)


def _read_backward(
    handle: BinaryIO,
    header_end: int,
    end: int,
    limit: int,
    start_time: int | None,
    end_time: int | None,
    max_bytes: int,
) -> EventPage:
    events: list[LogEvent] = []
    size = 0
    position = end
    for line_start, _, line in _lines.backward(handle, header_end, end):
        event = _event(line)
        if event is not None and start_time is not None and event.timestamp < start_time:
            break
        position = line_start
        if event is None or (end_time is not None and event.timestamp > end_time):
            continue
        events.append(event)
        size += len(event.message.encode()) + 26
        if len(events) >= limit or size >= max_bytes:
            break
    events.reverse()
    return EventPage(tuple(events), next_forward=end, next_backward=position)


def _open(path: Path, stream: str) -> BinaryIO:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"The specified log stream does not exist: {stream}.") from None
    return os.fdopen(fd, "rb")


def _header(handle: BinaryIO, end: int) -> tuple[int, int]:
    """``(offset after the header line, creationTime)``; ``(0, 0)`` for a file without a header."""
    for _, line_end, line in _lines.forward(handle, 0, end):
        record = _layout.parse_line(line)
        if record is not None and "message" not in record:
            return line_end, _int(record, "creationTime") or 0
        return 0, 0
    return 0, 0


def _event(line: bytes) -> LogEvent | None:
    record = _layout.parse_line(line)
    if record is None or not isinstance(record.get("message"), str):
        return None
    return LogEvent(
        timestamp=_int(record, "timestamp") or 0,
        ingestion_time=_int(record, "ingestionTime") or 0,
        message=record["message"],
    )


def _int(record: dict[str, object] | None, key: str) -> int | None:
    value = None if record is None else record.get(key)
    return value if isinstance(value, int) else None


def _chunks(lines: list[bytes]) -> Iterable[bytes]:
    """Join lines into line-aligned pieces of at most :data:`MAX_WRITE` bytes (longer lines stay whole)."""
    piece: list[bytes] = []
    size = 0
    for line in lines:
        if piece and size + len(line) > MAX_WRITE:
            yield b"".join(piece)
            piece, size = [], 0
        piece.append(line)
        size += len(line)
    if piece:
        yield b"".join(piece)


def _walk(directory: Path, name_prefix: str, partial: str) -> Iterable[str]:
    """Stream names under ``directory`` (whose names start with ``name_prefix``) that match ``partial``."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            segment = _layout.unescape(entry.name)
            if segment.startswith(partial):
                yield from _walk(Path(entry.path), name_prefix + segment + "/", "")
        elif entry.name.endswith(_layout.SUFFIX):
            segment = _layout.unescape(entry.name[: -len(_layout.SUFFIX)])
            if segment.startswith(partial):
                yield name_prefix + segment
