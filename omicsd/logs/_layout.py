"""Where log streams live on disk and what their lines look like.

Owns: the reversible mapping of group and stream names to paths, the stream file format and the creation
of a stream file (exactly once, even when several processes race to create it).
Must not: page through events (``_lines`` and ``files`` do).

Layout: ``<root>/<group>/<segment>/…/<last segment>.log``, one directory level per ``/``-separated segment
of the stream name, each segment (and the group) escaped so that only ``[A-Za-z0-9_-]`` and ``%XX`` remain
(``~`` stands for an empty segment). Because no escaped name contains a dot, ``x.log`` (stream ``…/x``) and
``x/`` (streams ``…/x/…``) never clash, and a name prefix maps to one directory plus a filter on one level.

File format: JSON lines, UTF-8. The first line is a header ``{"logStreamName": …, "creationTime": ms}``;
every other line is one event ``{"timestamp": ms, "ingestionTime": ms, "message": str}``. A line without
its final newline is still being written and is ignored by readers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import string
import tempfile
import time
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path
from typing import Any
from urllib.parse import unquote

SUFFIX = ".log"
_EVENT = '{"timestamp": %d, "ingestionTime": %d, "message": %s}\n'
_SAFE = frozenset(string.ascii_letters + string.digits + "-_")
_EMPTY = "~"


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def escape(segment: str) -> str:
    """One name segment as a file name (only ``[A-Za-z0-9_-]``, ``%XX`` and ``~`` for empty)."""
    if not segment:
        return _EMPTY
    return "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in segment)


def unescape(name: str) -> str:
    """The inverse of :func:`escape`."""
    return "" if name == _EMPTY else unquote(name)


def group_dir(root: Path, group: str) -> Path:
    """The directory of a log group."""
    return root / escape(group)


def stream_path(root: Path, group: str, stream: str) -> Path:
    """The file of a log stream."""
    *parents, last = stream.split("/")
    return group_dir(root, group).joinpath(*(escape(p) for p in parents), escape(last) + SUFFIX)


def header_line(stream: str, creation_ms: int) -> bytes:
    """The first line of a stream file."""
    return json.dumps({"logStreamName": stream, "creationTime": creation_ms}).encode() + b"\n"


def event_line(timestamp: int, ingestion: int, message: str) -> bytes:
    """One event as a line: ``{"timestamp": …, "ingestionTime": …, "message": …}`` (what ``json.dumps`` writes).

    Formatted directly around the JSON string encoder: engines log a few lines per task, and building a JSON
    encoder per line cost several times more than the line itself.
    """
    try:
        return (_EVENT % (int(timestamp), int(ingestion), encode_basestring(message))).encode()
    except UnicodeEncodeError:  # a lone surrogate: escape everything outside ASCII
        return (_EVENT % (int(timestamp), int(ingestion), encode_basestring_ascii(message))).encode()


def parse_line(line: bytes) -> dict[str, Any] | None:
    """A decoded line, or ``None`` when it is not valid JSON."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def ensure_stream(root: Path, group: str, stream: str) -> Path:
    """Create the stream file with its header unless it exists; safe when processes race to create it.

    The header is written to a temporary file that is then linked into place, so a reader never sees a stream
    without its header.
    """
    path = stream_path(root, group, stream)
    if path.exists():
        return path
    try:
        fd, tmp = _temporary(path.parent)
    except FileNotFoundError:  # the stream's first in its directory: create the directories once
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temporary(path.parent)
    try:
        try:
            os.write(fd, header_line(stream, now_ms()))
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return path


_TEMPORARIES = itertools.count()


def _temporary(directory: Path) -> tuple[int, str]:
    """A new private file in ``directory``: named by process and counter (no random name to draw), else mkstemp."""
    name = os.path.join(directory, f".tmp-{os.getpid()}-{next(_TEMPORARIES)}")
    try:
        return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), name
    except FileExistsError:  # left by a process that had the same pid and crashed
        return tempfile.mkstemp(dir=directory, prefix=".tmp-")
