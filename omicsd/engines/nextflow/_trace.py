"""Nextflow task trace records: one task's fields as the weblog and the trace file report them.

Owns: :data:`TRACE_FIELDS` (the trace columns the driver asks Nextflow for), :class:`TaskRecord` (a task's
trace, normalized: epoch seconds, bytes, exit status or ``None``), :func:`record_from_fields` and
:class:`TraceFileReader`, which tails the ``-with-trace`` file.

Must not: emit journal events (:mod:`omicsd.engines.nextflow._tasks` does) or start Nextflow.

Values come in two dialects. The weblog sends JSON numbers (times and durations in milliseconds, memory in
bytes). The trace file is text: with ``trace.raw = true`` (the driver's config sets it) the numbers are the
same as the weblog's; without it they are human-readable (``2024-01-02 10:11:12.345`` in local time,
``1m 2s``, ``1.5 GB``, ``95.3%``). ``-`` (or JSON ``null``) means "not known". Both dialects are accepted
everywhere. The trace file is tab-separated with a header line and gains one line per finished task; its
last line may be incomplete while Nextflow writes it, and is read only once its newline arrives.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

logger = logging.getLogger(__name__)

#: The trace columns the driver's generated config asks for (``trace.fields``); every one exists since 22.04.
TRACE_FIELDS: Final = (
    "task_id",
    "hash",
    "native_id",
    "process",
    "tag",
    "name",
    "status",
    "exit",
    "attempt",
    "container",
    "cpus",
    "memory",
    "submit",
    "start",
    "complete",
    "duration",
    "realtime",
    "%cpu",
    "rss",
    "peak_rss",
    "workdir",
    "error_action",
)

#: Nextflow task statuses that end a task.
FINAL_STATUSES: Final = frozenset({"COMPLETED", "FAILED", "ABORTED", "CACHED"})

MAX_NAME: Final = 128

_MISSING = ("", "-", "null")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTPE]?B)", re.IGNORECASE)
_SIZE_UNITS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6}
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class TaskRecord:
    """One Nextflow task (one attempt), as far as its trace tells."""

    task_id: str
    """Nextflow's task id (a run-wide counter); each attempt of a retried task has its own."""
    name: str
    """HealthOmics task name: Nextflow's ``<process> (<tag>)`` or ``<process> (<index>)``."""
    process: str = ""
    tag: str = ""
    status: str = ""
    """``SUBMITTED``, ``RUNNING``, ``COMPLETED``, ``FAILED``, ``ABORTED`` or ``CACHED``."""
    exit_status: int | None = None
    attempt: int = 1
    cpus: float | None = None
    memory_bytes: int | None = None
    gpus: int = 0
    accelerator_type: str = ""
    container: str = ""
    submit: float | None = None
    """Epoch seconds (so are ``start`` and ``complete``)."""
    start: float | None = None
    complete: float | None = None
    realtime: float | None = None
    """Seconds the command ran."""
    cpu_percent: float | None = None
    """Average CPU use in percent of one core (``%cpu``)."""
    rss: int | None = None
    peak_rss: int | None = None
    workdir: str = ""
    error_action: str = ""
    """What Nextflow did about a failure: ``TERMINATE``, ``FINISH``, ``IGNORE`` or ``RETRY``."""

    @property
    def final(self) -> bool:
        """Whether the record reports the end of the task."""
        return self.status in FINAL_STATUSES


def record_from_fields(fields: Mapping[str, Any]) -> TaskRecord | None:
    """Normalize one trace (weblog ``trace`` object or trace-file row); ``None`` when it names no task."""
    task_id = _text(fields.get("task_id"))
    if not task_id:
        return None
    process = _text(fields.get("process"))
    tag = _text(fields.get("tag"))
    return TaskRecord(
        task_id=task_id,
        name=task_name(_text(fields.get("name")), process, tag, task_id),
        process=process,
        tag=tag,
        status=_text(fields.get("status")).upper(),
        exit_status=_exit(fields.get("exit")),
        attempt=_int(fields.get("attempt")) or 1,
        cpus=_float(fields.get("cpus")),
        memory_bytes=parse_size(fields.get("memory")),
        gpus=_int(fields.get("accelerator")) or 0,
        accelerator_type=_text(fields.get("accelerator_type")),
        container=_text(fields.get("container")),
        submit=parse_timestamp(fields.get("submit")),
        start=parse_timestamp(fields.get("start")),
        complete=parse_timestamp(fields.get("complete")),
        realtime=parse_duration(fields.get("realtime")),
        cpu_percent=_float(fields.get("%cpu")),
        rss=parse_size(fields.get("rss")),
        peak_rss=parse_size(fields.get("peak_rss")),
        workdir=_text(fields.get("workdir")),
        error_action=_text(fields.get("error_action")).upper(),
    )


def task_name(name: str, process: str, tag: str, task_id: str) -> str:
    """Nextflow's own task name when reported, else ``<process> (<tag>)``, else the process name."""
    if not name:
        name = f"{process} ({tag})" if process and tag else process or f"task {task_id}"
    return name[:MAX_NAME]


class TraceFileReader:
    """Reads the records appended to a trace file since the last call."""

    def __init__(self, path: Path, *, separator: str = "\t") -> None:
        """Follow ``path`` (it may not exist yet)."""
        self.path = path
        self.separator = separator
        self.header: list[str] | None = None
        self._offset = 0

    def read_new(self) -> list[TaskRecord]:
        """Records of the complete lines written since the previous call (a partial last line waits)."""
        try:
            with open(self.path, "rb") as handle:
                size = handle.seek(0, 2)
                if size < self._offset:  # the file was started over
                    self._offset, self.header = 0, None
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        records: list[TaskRecord] = []
        for raw in data[:end].split(b"\n"):
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            if not line.strip():
                continue
            cells = line.split(self.separator)
            if self.header is None or cells == self.header:
                self.header = [cell.strip() for cell in cells]
                continue
            record = record_from_fields(dict(zip(self.header, cells, strict=False)))
            if record is None:
                logger.debug("trace.unreadable_line line=%s", line)
                continue
            records.append(record)
        return records


# -- value parsers -----------------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> float | None:
    """Epoch seconds of a trace time: milliseconds since the epoch, or ``YYYY-MM-DD HH:MM:SS[.fff]``."""
    number = _number(value)
    if number is not None:
        return number / 1000 if number > 0 else None
    text = _text(value)
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(text, form).timestamp()
        except ValueError:
            continue
    return None


def parse_duration(value: Any) -> float | None:
    """Seconds of a trace duration: milliseconds, or ``1d 2h 3m 4.5s`` / ``150ms``."""
    number = _number(value)
    if number is not None:
        return number / 1000
    text = _text(value)
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    return sum(float(amount) * scale[unit] for amount, unit in parts)


def parse_size(value: Any) -> int | None:
    """Bytes of a trace size: a number of bytes, or ``1.5 GB`` (powers of 1024, as Nextflow prints them)."""
    number = _number(value)
    if number is not None:
        return int(number)
    match = _SIZE.fullmatch(_text(value))
    if match is None:
        return None
    return int(float(match.group(1)) * 1024 ** _SIZE_UNITS[match.group(2).upper()])


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    return "" if text in _MISSING else text


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    text = _text(value)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _float(value: Any) -> float | None:
    return _number(_text(value).removesuffix("%") if isinstance(value, str) else value)


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _exit(value: Any) -> int | None:
    """A POSIX exit status; Nextflow reports ``Integer.MAX_VALUE`` (or ``-``) when there is none."""
    status = _int(value)
    return status if status is not None and 0 <= status <= 255 else None
