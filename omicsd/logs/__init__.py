"""Run, engine and task logs as CloudWatch-Logs-like streams stored in append-only files.

Owns: the package's re-exports (:mod:`streams` names, :mod:`files` storage, :mod:`tail` followers).
Must not: serve the Logs API (the protocol layer does, over :class:`LogReader`).
"""

from __future__ import annotations

from omicsd.logs.files import EventPage, LogEvent, LogReader, LogWriter, StreamInfo
from omicsd.logs.streams import LOG_GROUP

__all__ = ["LOG_GROUP", "EventPage", "LogEvent", "LogReader", "LogWriter", "StreamInfo"]
