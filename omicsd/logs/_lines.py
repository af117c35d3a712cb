"""Line-level access to a stream file by byte offset: forward and backward block reads and time seeks.

Owns: reading complete lines after or before an offset in fixed-size blocks (so a page costs O(page), not
O(stream)), the end of the complete part of a file, and a binary search for the first event at or after a
timestamp (events are appended in non-decreasing timestamp order by omicsd's writers).
Must not: know the JSON shape of an event beyond its ``timestamp`` (``files`` decodes events).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 64 * 1024


def complete_end(handle: BinaryIO, size: int) -> int:
    """Offset just after the last newline: everything before it is complete lines."""
    pos = size
    while pos > 0:
        start = max(0, pos - BLOCK)
        handle.seek(start)
        chunk = handle.read(pos - start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        pos = start
    return 0


def forward(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    """``(line_start, line_end, line)`` of each complete line in ``[start, end)``, in file order."""
    pos = start
    pending = b""
    pending_start = start
    while pos < end:
        handle.seek(pos)
        chunk = handle.read(min(BLOCK, end - pos))
        if not chunk:
            return
        pos += len(chunk)
        data = pending + chunk
        line_start = pending_start
        offset = 0
        while True:
            index = data.find(b"\n", offset)
            if index < 0:
                break
            line = data[offset:index]
            yield line_start, line_start + len(line) + 1, line
            line_start += len(line) + 1
            offset = index + 1
        pending = data[offset:]
        pending_start = line_start


def backward(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    """``(line_start, line_end, line)`` of each complete line in ``[start, end)``, last line first.

    ``end`` must be a line boundary (just after a newline) and ``start`` a line start.
    """
    pos = end
    tail = b""
    while pos > start:
        block_start = max(start, pos - BLOCK)
        handle.seek(block_start)
        data = handle.read(pos - block_start) + tail
        lines = data.split(b"\n")
        lines.pop()
        if block_start > start:
            # The first line of the block may begin in an earlier block: carry it back.
            tail = lines[0] + b"\n"
            lines = lines[1:]
        else:
            tail = b""
        line_end = block_start + len(data)
        for line in reversed(lines):
            line_start = line_end - len(line) - 1
            yield line_start, line_end, line
            line_end = line_start
        pos = block_start


def timestamp_of(line: bytes) -> int | None:
    """The ``timestamp`` of an event line, or ``None`` for a header or a damaged line."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    stamp = value.get("timestamp") if isinstance(value, dict) else None
    return stamp if isinstance(stamp, int) else None


def seek_time(handle: BinaryIO, lo: int, hi: int, when: int) -> int:
    """The start of the first line in ``[lo, hi)`` whose timestamp is ``>= when`` (``hi`` if none).

    ``lo`` and ``hi`` are line boundaries; timestamps are assumed non-decreasing across the range.
    """
    while lo < hi:
        mid = (lo + hi) // 2
        line_start, line_end, line = _line_containing(handle, mid, lo, hi)
        stamp = timestamp_of(line)
        if stamp is None or stamp < when:
            lo = line_end
        else:
            hi = line_start
    return lo


def _line_containing(handle: BinaryIO, pos: int, lo: int, hi: int) -> tuple[int, int, bytes]:
    """The complete line that contains byte ``pos`` (``lo <= pos < hi``, both line boundaries)."""
    start = pos
    while start > lo:
        block = max(lo, start - 4096)
        handle.seek(block)
        chunk = handle.read(start - block)
        index = chunk.rfind(b"\n")
        if index >= 0:
            start = block + index + 1
            break
        start = block
    for line_start, line_end, line in forward(handle, start, hi):
        return line_start, line_end, line
    return start, hi, b""
